/**
 * Redis HA through Sentinel: a master, a replica and a sentinel of the test's own. warren is given only the
 * sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME); when the master is killed and the sentinel promotes the replica,
 * warren follows by itself: ready again, its silences still there, new state written to the new master.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { allocatePorts } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { redisAnswers } from '../support/aof-redis.js';
import { FakeSlack } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { slash, startHarnessWarren } from '../support/warren-harness.js';

const MASTER_NAME = 'warren-test-master';
const OPERATOR = 'U0OPERATOR';

const answers = (port: number) => redisAnswers(`redis://127.0.0.1:${port}`);

describe('Redis through Sentinel', () => {
  const stack = inject('stack');
  const dir = mkdtempSync(join(tmpdir(), 'warren-sentinel-'));
  const processes: ChildProcess[] = [];
  const ports = { master: 0, replica: 0, sentinel: 0 };
  let master: ChildProcess;
  let fake: FakeSlack;
  let warren: Warren;

  const redisServer = (args: string[]) => {
    const child = spawn('redis-server', args, { cwd: dir, stdio: 'ignore' });
    processes.push(child);
    return child;
  };

  beforeAll(async () => {
    [ports.master, ports.replica, ports.sentinel] = (await allocatePorts(3)) as [number, number, number];
    const common = ['--bind', '127.0.0.1', '--save', '', '--dir', dir];
    master = redisServer(['--port', String(ports.master), ...common]);
    redisServer(['--port', String(ports.replica), ...common, '--replicaof', '127.0.0.1', String(ports.master)]);
    await waitUntil(async () => (await answers(ports.master)) && answers(ports.replica), 'master and replica', 20_000);
    // Answering is not replicating: on a busy machine the replica's first sync can take longer than the WAIT below.
    const replica = new Redis({ port: ports.replica, host: '127.0.0.1' });
    await waitUntil(
      async () => (await replica.info('replication')).includes('master_link_status:up'),
      'the replica to be in sync with the master',
      30_000,
    );
    replica.disconnect();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${ports.sentinel}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${ports.master} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        '',
      ].join('\n'),
    );
    redisServer([conf, '--sentinel']);
    await waitUntil(() => answers(ports.sentinel), 'the sentinel', 20_000);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack,
      fake,
      yaml: `
access:
  operators: [${OPERATOR}]
tap:
  enabled: false
health:
  interval: 1h
`,
      env: {
        // The host of the URL is not used with Sentinel; its database is.
        REDIS_URL: 'redis://127.0.0.1:1/0',
        REDIS_SENTINELS: `127.0.0.1:${ports.sentinel}`,
        REDIS_SENTINEL_NAME: MASTER_NAME,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    for (const child of processes) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const ready = async () => (await fetch(`http://127.0.0.1:${warren.httpPort}/readyz`)).status === 200;

  it('follows a failover from the master to the promoted replica', async () => {
    expect(await ready()).toBe(true);
    const silenced = String((await slash(warren, fake, OPERATOR, 'silence backlog 1h before the failover')).text);
    expect(silenced).toMatch(/silenced `backlog/);
    // The write reached the replica before the master dies (replication is asynchronous).
    const direct = new Redis({ port: ports.master, host: '127.0.0.1' });
    expect(await direct.call('WAIT', '1', '5000')).toBe(1);
    direct.disconnect();

    master.kill('SIGKILL');
    const sentinel = new Redis({ port: ports.sentinel, host: '127.0.0.1' });
    try {
      await waitUntil(
        async () => {
          const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[];
          return Number(port) === ports.replica;
        },
        'the sentinel to promote the replica',
        60_000,
      );
    } finally {
      sentinel.disconnect();
    }
    await waitUntil(ready, 'warren to be ready on the new master', 60_000);
    expect(String((await slash(warren, fake, OPERATOR, 'silences')).text)).toContain('before the failover');
    const after = String((await slash(warren, fake, OPERATOR, 'silence heartbeats 1h after the failover')).text);
    expect(after).toMatch(/silenced `heartbeats/);
    const promoted = new Redis({ port: ports.replica, host: '127.0.0.1' });
    try {
      expect(JSON.stringify(await promoted.keys('warren:health:*'))).toContain('silence');
    } finally {
      promoted.disconnect();
    }
  }, 150_000);
});
