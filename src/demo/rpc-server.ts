/**
 * Starts rpc-server-process.ts (a stand-in oslo RPC server) and resolves with its fanout queue (and in the kolla
 * layout its reply queue) once it consumes.
 * The script runs under node itself with tsx as a loader, not under the tsx CLI: the CLI would run it in a
 * grandchild that a SIGKILL of the CLI leaves alive, and the point is to be able to kill it hard.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DemoError } from '../errors.js';
import type { OsloLayout } from './oslo-layout.js';

/** Where rpc-server-process.ts finds its AMQP URL. */
export const RPC_SERVER_URL_ENV = 'WARREN_RPC_SERVER_AMQP_URL';

const SCRIPT = ['rpc-server-process.ts', 'rpc-server-process.js']
  .map((name) => resolve(import.meta.dirname, name))
  .find((path) => existsSync(path)) as string;

export interface RpcServerOptions {
  host?: string;
  service?: string;
  /** oslo's control exchange: `nova`, `neutron`, `openstack` (the default, used by cinder). */
  exchange?: string;
  /** `full` (default): `<topic>`, `<topic>.<host>` and the fanout queue; `fanout-only`: the fanout queue alone. */
  layout?: 'full' | 'fanout-only';
  /** How oslo is configured: `classic` (default) or `kolla` (quorum, queue manager, stream fanout). */
  oslo?: OsloLayout;
}

export async function startRpcServer(
  amqpUrl: string,
  topic: string,
  options: RpcServerOptions = {},
): Promise<{ child: ChildProcess; queue: string; replyQueue?: string }> {
  const { host = 'host-1', service = topic, exchange = 'openstack', layout = 'full', oslo = 'classic' } = options;
  // From the TypeScript sources (tests, `npm run demo`) tsx loads it; built (the image) it is plain JavaScript.
  const loader = SCRIPT.endsWith('.ts') ? ['--import', 'tsx'] : [];
  // The URL holds the password: in the environment, never on a command line that `ps` shows to every user.
  const child = spawn(process.execPath, [...loader, SCRIPT, topic, host, service, exchange, layout, oslo], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, [RPC_SERVER_URL_ENV]: amqpUrl },
  });
  try {
    const line = await new Promise<string>((done, fail) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', done);
      child.once('exit', (code) => fail(new DemoError(`rpc server exited with ${code}`)));
    });
    const { fanout, reply } = JSON.parse(line) as { fanout: string; reply?: string };
    return { child, queue: fanout, ...(reply ? { replyQueue: reply } : {}) };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
