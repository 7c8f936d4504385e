/**
 * End-to-end test of the devstack against the machine's real rabbitmq-server and redis-server packages: start a
 * 3-node cluster, use it, kill and restart a node, stop, and prove nothing is left behind. Slow (about a minute);
 * must not assume anything about other RabbitMQ or redis instances on the machine.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

import { describe, expect, it } from 'vitest';

import { attachLocalStack, type LocalStack, LocalStackError, startLocalStack } from '../../src/devstack/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ApiNode {
  name: string;
  running: boolean;
}

async function apiNodes(stack: LocalStack): Promise<ApiNode[]> {
  const auth = Buffer.from(`${stack.username}:${stack.password}`).toString('base64');
  const url = `${stack.nodes[0]?.managementUrl}/api/nodes`;
  const res = await fetch(url, { headers: { authorization: `Basic ${auth}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as ApiNode[];
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(500);
  }
}

function tcp(port: number, send?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`timeout on port ${port}`));
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      if (send === undefined) {
        socket.destroy();
        resolve('connected');
      } else {
        socket.write(send);
      }
    });
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data);
      }
    });
  });
}

/** pids whose command line or environment mentions dir (pgrep -f only sees command lines). */
function processesMentioning(dir: string): string[] {
  const found: string[] = [];
  try {
    found.push(...execFileSync('pgrep', ['-a', '-f', dir], { encoding: 'utf8' }).trim().split('\n').filter(Boolean));
  } catch {
    // pgrep exits 1 when nothing matches
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(dir)) found.push(`${entry} (environ)`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe('local devstack', () => {
  it('starts a 3-node cluster with redis, survives a node kill, and leaves nothing behind', async () => {
    const lines: string[] = [];
    const started = Date.now();
    const stack = await startLocalStack({ log: (line) => lines.push(line) });
    const startMs = Date.now() - started;
    const { baseDir } = stack;
    try {
      console.log(`stack started in ${startMs} ms:\n${lines.join('\n')}`);
      expect(stack.nodes.map((n) => n.name)).toHaveLength(3);
      expect(stack.nodes[0]?.managementUrl).not.toContain(stack.password);
      expect(lines.join('\n')).not.toContain(stack.password);
      expect(JSON.parse(JSON.stringify(stack.describe()))).toEqual(stack.describe());

      const nodes = await eventually(
        () => apiNodes(stack),
        (ns) => ns.filter((n) => n.running).length === 3,
        30_000,
      );
      expect(
        nodes
          .filter((n) => n.running)
          .map((n) => n.name)
          .sort(),
      ).toEqual(stack.nodes.map((n) => n.name).sort());

      const redisPort = Number(new URL(stack.redisUrl).port);
      expect(await tcp(redisPort, 'PING\r\n')).toBe('+PONG\r\n');
      for (const node of stack.nodes) expect(await tcp(node.amqpPort)).toBe('connected');

      // a second handle, as another process would build it from the JSON description
      const attached = attachLocalStack(JSON.parse(JSON.stringify(stack.describe())));
      const status = await attached.rabbitmqctl(stack.nodes[0]?.name as string, ['eval', 'lists:sort(nodes()).']);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(stack.nodes[1]?.name);

      const victim = stack.nodes[2]?.name as string;
      const killStarted = Date.now();
      await stack.killNode(victim);
      const killMs = Date.now() - killStarted;
      expect(stack.describe().pids.rabbit[victim]).toBeUndefined();
      await expect(tcp(stack.nodes[2]?.amqpPort as number)).rejects.toThrow();
      const down = await eventually(
        () => apiNodes(stack),
        (ns) => ns.find((n) => n.name === victim)?.running === false,
        30_000,
      );
      expect(down.find((n) => n.name === victim)?.running).toBe(false);

      const restartStarted = Date.now();
      await stack.startNode(victim);
      const restartMs = Date.now() - restartStarted;
      expect(stack.describe().pids.rabbit[victim]).toBeGreaterThan(0);
      const back = await eventually(
        () => apiNodes(stack),
        (ns) => ns.filter((n) => n.running).length === 3,
        60_000,
      );
      expect(back.filter((n) => n.running)).toHaveLength(3);
      console.log(`killNode ${killMs} ms, startNode ${restartMs} ms`);

      await expect(stack.rabbitmqctl('nope@localhost', ['status'])).rejects.toBeInstanceOf(LocalStackError);
    } finally {
      const stopStarted = Date.now();
      await stack.stop();
      await stack.stop(); // idempotent
      console.log(`stop ${Date.now() - stopStarted} ms`);
    }
    expect(existsSync(baseDir)).toBe(false);
    expect(processesMentioning(baseDir)).toEqual([]);
  }, 240_000);
});
