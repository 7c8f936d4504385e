/**
 * The whole-cluster restart order on the real cluster (runbook 1.6): the three nodes are stopped one after the other,
 * warren's node-down alert names each as it goes and, once no management URL answers, says to start the last one
 * first. Then the nodes are started in the wrong order, as a hurried operator would: the first-stopped node waits in
 * its boot for the last-stopped one, which boots on its own when started as the alert says; the cluster comes back
 * whole and the alert resolves in place.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachLocalStack, type LocalStack } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { clusterHealthy, restoreCluster } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, SWEEPING_YAML, startHarnessWarren } from '../support/warren-harness.js';

const REDIS_DB = 12;
const ALERT_WAIT_MS = 60_000;

const YAML = `${SWEEPING_YAML}
`;

describe('the whole-cluster restart order', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];

  const blocksOf = (call: RecordedCall) => JSON.stringify(call.params.blocks);

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    await restoreCluster(desc, stack);
    await flushHarnessRedis(desc, REDIS_DB);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, redisDb: REDIS_DB });
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    for (const node of [node3, node2, node1]) await stack?.rabbitmqctl(node, ['start_app'], { timeoutMs: 120_000 });
    if (stack) await restoreCluster(desc, stack);
  }, 600_000);

  it('names the last node to stop as the one to start first, and the cluster comes back in that order', async () => {
    expect((await stack.rabbitmqctl(node1, ['stop_app'])).code).toBe(0);
    const alert = await fake.waitForCall(
      'chat.postMessage',
      (c) => !c.params.thread_ts && blocksOf(c).includes('alert `node-down@default`') && blocksOf(c).includes(node1),
      ALERT_WAIT_MS,
    );
    const ts = (alert.reply as { ts: string }).ts;
    const edited = (needle: string) =>
      fake.waitForCall('chat.update', (c) => c.params.ts === ts && blocksOf(c).includes(needle), ALERT_WAIT_MS);

    expect((await stack.rabbitmqctl(node2, ['stop_app'])).code).toBe(0);
    await edited(`\`${node2}\` is not running`);
    expect((await stack.rabbitmqctl(node3, ['stop_app'])).code).toBe(0);
    const order = await edited(`start \`${node3}\` first`);
    expect(blocksOf(order)).toMatch(
      new RegExp(`Last seen running, in order: \`${node1}\` [^,]+, \`${node2}\` [^,]+, \`${node3}\``),
    );

    // The wrong order first: node 1 stopped first, so its boot waits for the node that stopped last.
    const firstStopped = stack.rabbitmqctl(node1, ['start_app'], { timeoutMs: 300_000 });
    expect((await stack.rabbitmqctl(node3, ['start_app'], { timeoutMs: 120_000 })).code).toBe(0);
    expect((await firstStopped).code).toBe(0);
    expect((await stack.rabbitmqctl(node2, ['start_app'], { timeoutMs: 120_000 })).code).toBe(0);
    await waitUntil(() => clusterHealthy(desc), 'every node running together', 120_000);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      ALERT_WAIT_MS,
    );
  }, 600_000);
});
