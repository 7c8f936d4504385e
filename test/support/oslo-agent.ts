/**
 * Runs test/support/oslo_agent.py, a real oslo.messaging client, with the stack's own series of oslo.messaging
 * (bookworm's 14 for RabbitMQ 3.10, trixie's 16 from the devstack's root for 4.0). The script goes in as `-c` text,
 * so it needs no path inside the root; the transport URL goes in the environment, never on a command line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStackDescription } from '../../src/devstack/index.js';

const SCRIPT = readFileSync(new URL('./oslo_agent.py', import.meta.url), 'utf8');

export interface OsloAgent {
  child: ChildProcess;
  /** Resolves with the READY line's JSON (servers), rejects when the process exits first. */
  ready: Promise<Record<string, unknown>>;
  /** Resolves with the DONE line's JSON, rejects when the process exits without one. */
  done: Promise<Record<string, unknown>>;
  /** Everything it printed, for failure messages. */
  output(): string;
  /** SIGTERM (a clean stop) or SIGKILL (a hard death, as a crashed service), and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** oslo's transport URL over every node of the stack, as a deployment lists its RabbitMQ hosts. */
export function osloTransportUrl(stack: LocalStackDescription, vhost = '/'): string {
  const user = encodeURIComponent(stack.username);
  const password = encodeURIComponent(stack.password);
  const hosts = stack.nodes.map((n) => `${user}:${password}@127.0.0.1:${n.amqpPort}`).join(',');
  return `rabbit://${hosts}/${vhost === '/' ? '' : encodeURIComponent(vhost)}`;
}

/** A folder the agent can write in (its `lock_path`), visible at the same path inside the stack's root. */
export function osloLockPath(stack: LocalStackDescription): string {
  const dir = join(stack.baseDir, 'oslo-locks');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * `newProcessGroup`: start it in a process group of its own, as a service manager starts a service. oslo's queue
 * manager keeps its name counter per process group, so only a restart in a new group takes the same names again.
 */
export function startOsloAgent(
  stack: LocalStackDescription,
  args: string[],
  opts: { vhost?: string; newProcessGroup?: boolean } = {},
): OsloAgent {
  const [python, ...prefix] = stack.rabbitmq.python3 as [string, ...string[]];
  const child = spawn(python, [...prefix, '-c', SCRIPT, ...args], {
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
      WARREN_OSLO_URL: osloTransportUrl(stack, opts.vhost),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.newProcessGroup ? { detached: true } : {}),
  });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lineOf = (tag: 'READY' | 'DONE') =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onData = (): void => {
        const m = new RegExp(`^${tag} (.*)$`, 'm').exec(text);
        if (m) resolve(JSON.parse(m[1] as string) as Record<string, unknown>);
      };
      child.stdout?.on('data', onData);
      void exited.then(() => {
        onData();
        reject(new Error(`oslo agent ${args[0]} exited (code ${child.exitCode}) before ${tag}:\n${text.slice(-3000)}`));
      });
    });
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const ready = lineOf('READY');
  const done = lineOf('DONE');
  // a caller that waits on one of them only must not see the other's rejection as unhandled
  ready.catch(() => undefined);
  done.catch(() => undefined);
  return {
    child,
    ready,
    done,
    output: () => text,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
