/**
 * Owns one throw-away redis-server of the devstack: no persistence, loopback only, output in a file under its dir.
 * Must not touch a redis it did not start (a system redis on 6379 is left alone).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

import { LocalStackError } from './errors.js';
import { killIfOurs, MARKER_ENV, tailFile, waitForExit, waitUntil } from './processes.js';

export interface RedisHandle {
  pid: number;
  port: number;
  url: string;
  child: ChildProcess | undefined;
}

/** Resolves true when redis on 127.0.0.1:port answers PING with +PONG. */
export function pingRedis(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let received = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n')) done(received.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

export async function startRedis(opts: {
  redisServer: string;
  baseDir: string;
  port: number;
  timeoutMs?: number;
}): Promise<RedisHandle> {
  const dir = join(opts.baseDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'stdout.log');
  const out = openSync(logPath, 'a');
  // A fixed, small environment: the parent's REDIS_* or locale settings must not change the server's behaviour.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', [MARKER_ENV]: opts.baseDir };
  // argv: --save "" disables RDB snapshots; redis needs the empty string as its own argument.
  const args = ['--port', String(opts.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', dir, '--daemonize', 'no', '--maxmemory-policy', 'noeviction');
  let child: ChildProcess;
  try {
    child = spawn(opts.redisServer, args, { cwd: dir, env, stdio: ['ignore', out, out], detached: false });
  } finally {
    closeSync(out);
  }
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  const ready =
    pid !== undefined &&
    (await waitUntil(
      async () => (await pingRedis(opts.port)) || child.exitCode !== null,
      opts.timeoutMs ?? 15_000,
      100,
    )) &&
    child.exitCode === null;
  if (!ready) {
    if (pid !== undefined) {
      killIfOurs(pid, opts.baseDir);
      await waitForExit(pid, 5_000);
    }
    const cause = pid === undefined ? await spawnError : undefined;
    throw new LocalStackError(
      'warren_devstack_start_failed',
      `redis-server on 127.0.0.1:${opts.port} did not answer PING` +
        (cause ? ` (${cause.message})` : '') +
        `; last lines of ${logPath}:\n${tailFile(logPath)}`,
      { cause },
    );
  }
  return { pid, port: opts.port, url: `redis://127.0.0.1:${opts.port}`, child };
}

/** SIGTERM (redis exits quickly without persistence), SIGKILL if it lingers. */
export async function stopRedis(pid: number, baseDir: string, timeoutMs = 5_000): Promise<void> {
  if (!killIfOurs(pid, baseDir, 'SIGTERM')) return;
  if (await waitForExit(pid, timeoutMs)) return;
  killIfOurs(pid, baseDir, 'SIGKILL');
  await waitForExit(pid, timeoutMs);
}
