/**
 * Starts test/support/rpc-server-process.ts (a stand-in oslo RPC server) and resolves with its fanout queue once
 * it consumes. The script runs under node itself with tsx as a loader, not under the tsx CLI: the CLI would run
 * it in a grandchild that a SIGKILL of the CLI leaves alive, and the point is to kill it hard.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = resolve(import.meta.dirname, 'rpc-server-process.ts');

export async function startRpcServer(amqpUrl: string, topic: string): Promise<{ child: ChildProcess; queue: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, amqpUrl, topic], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const queue = await new Promise<string>((done, fail) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', done);
      child.once('exit', (code) => fail(new Error(`rpc server exited with ${code}`)));
    });
    return { child, queue };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
