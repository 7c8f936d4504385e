/**
 * Two replicas on one Redis, one of them a separate warren process killed with SIGKILL mid-flight: the survivor
 * carries on by itself, sweeping every interval (once the dead replica's sweep lock, if it held it, has lapsed) and
 * posting the next alert exactly once.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import type { CliRun } from '../support/run-cli.js';
import { waitUntil } from '../support/wait-until.js';
import {
  counterSum,
  flushHarnessRedis,
  harnessKeys,
  SWEEPING_YAML,
  spawnHarnessWarren,
  startHarnessWarren,
} from '../support/warren-harness.js';

const KEYS = harnessKeys('health-replica-kill');
const YAML = `${SWEEPING_YAML}
  thresholds:
    backlogMessages: 50
`;

/** The sum of a counter in a warren process's /metrics. */
async function remoteCounter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('one of two replicas killed', () => {
  const stack = inject('stack');
  const queue = `warren-test-kill-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), 'warren-replica-'));
  let fake: FakeSlack;
  let survivor: Warren;
  let doomed: CliRun;
  let amqp: ChannelModel;

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    writeFileSync(join(dir, 'warren.yaml'), YAML);
    survivor = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    doomed?.child.kill('SIGKILL');
    await survivor?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the survivor sweeping every interval and posting the next alert once', async () => {
    const spawned = await spawnHarnessWarren({ stack, fake, configPath: join(dir, 'warren.yaml'), keyPrefix: KEYS });
    doomed = spawned.cli;
    const port = spawned.httpPort;
    // Both share the sweeps: the separate process has done some before it dies.
    await waitUntil(
      async () => (await remoteCounter(port, 'warren_health_sweeps_total').catch(() => 0)) >= 2,
      'the second replica to sweep',
      60_000,
    );
    doomed.child.kill('SIGKILL');
    expect(await doomed.exit()).toBeNull();

    const before = await counterSum(survivor, 'warren_health_sweeps_total', { outcome: 'ok' });
    // The dead replica may have died holding the sweep lock (60 s at most): the survivor waits it out, no longer.
    await waitUntil(
      async () => (await counterSum(survivor, 'warren_health_sweeps_total', { outcome: 'ok' })) >= before + 3,
      'the survivor to sweep three times on its own',
      75_000,
    );

    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.close();
    const mentions = () =>
      fake
        .callsTo('chat.postMessage')
        .filter((c) => !c.params.thread_ts && JSON.stringify(c.params.blocks ?? []).includes(queue));
    await waitUntil(() => mentions().length === 1, 'the backlog alert', 30_000);
    const settled = await counterSum(survivor, 'warren_health_sweeps_total', { outcome: 'ok' });
    await waitUntil(
      async () => (await counterSum(survivor, 'warren_health_sweeps_total', { outcome: 'ok' })) >= settled + 3,
      'three more sweeps',
      30_000,
    );
    expect(mentions()).toHaveLength(1);
  }, 240_000);
});
