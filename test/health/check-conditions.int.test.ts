/**
 * The checks that check-faults.int.test.ts does not break the cluster for, each against the real condition on the
 * real 3-node cluster: quorum lost (two of three members stopped), a stuck consumer (deliveries taken, never acked,
 * piling up), queues matching the HA pattern without a mirroring policy, queue leaders piled on one node, and
 * resource usage over a threshold set low enough for an idle node to cross it. Each alert must name the culprit.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { attachLocalStack, type LocalStack } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster, restoreWhenFinished } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { balanceLeaders, leaderSpread, pileUpSize } from '../support/leader-pileup.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys, SWEEPING_YAML, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('health-check-conditions');

const PREFIX = `warren-cond-${randomUUID().slice(0, 6)}`;

// resourceUsage 0.001: an idle node already holds more than 0.1 % of its file descriptors (40 of 20,000 here).
const YAML = `${SWEEPING_YAML}
  haPattern: '^${PREFIX}\\.ha\\.'
  thresholds:
    resourceUsage: 0.001
    stuckUnacked: 20
    growthSweeps: 2
    masterImbalanceMinQueues: 6
`;

const ALERT_TIMEOUT = 60_000;

describe('health checks against real conditions', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];

  function alertText(call: RecordedCall): string {
    return JSON.stringify(call.params.blocks);
  }

  async function alertFor(alertId: string, needle: string): Promise<RecordedCall> {
    return fake.waitForCall(
      'chat.postMessage',
      (c) =>
        c.params.channel === 'C0ALERTS' &&
        !c.params.thread_ts &&
        alertText(c).includes(`alert \`${alertId}\``) &&
        alertText(c).includes(needle),
      ALERT_TIMEOUT,
    );
  }

  /** An in-place edit of the alert's message that mentions `needle`. */
  async function editOf(post: RecordedCall, needle: string): Promise<RecordedCall> {
    const ts = (post.reply as { ts: string }).ts;
    return fake.waitForCall('chat.update', (c) => c.params.ts === ts && alertText(c).includes(needle), ALERT_TIMEOUT);
  }

  /** The Slack ts of an alert's message, from its post or an edit of it. */
  const tsOf = (call: RecordedCall) =>
    call.method === 'chat.update' ? String(call.params.ts) : (call.reply as { ts: string }).ts;

  /** A post of the alert naming `needle`, or an edit of it while firing, after the first `since` calls. */
  async function firingAlert(alertId: string, needle: string, since: number): Promise<RecordedCall> {
    const matches = (c: RecordedCall) =>
      c.seq > since &&
      c.params.channel === 'C0ALERTS' &&
      !c.params.thread_ts &&
      !String(c.params.text).startsWith('RESOLVED') &&
      alertText(c).includes(`alert \`${alertId}\``) &&
      alertText(c).includes(needle);
    return Promise.any([
      fake.waitForCall('chat.postMessage', matches, ALERT_TIMEOUT),
      fake.waitForCall('chat.update', matches, ALERT_TIMEOUT),
    ]).catch((error: AggregateError) => {
      throw new Error(error.errors.map((e: Error) => e.message).join('\n'));
    });
  }

  async function resolvedEdit(post: RecordedCall): Promise<void> {
    const ts = tsOf(post);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      ALERT_TIMEOUT,
    );
  }

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    await restoreCluster(desc, stack);
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('resource usage: a node over the (lowered) threshold, naming the resource', async () => {
    const post = await alertFor('resource-usage@default', 'file descriptors');
    expect(post.params.text).toMatch(/^WARNING/);
    expect(alertText(post)).toContain(node1);
  });

  it('stuck consumer: deliveries taken and never acked, the unacked count rising', async () => {
    const queue = `${PREFIX}.stuck`;
    const channel = await amqp.createChannel();
    const publisher = await amqp.createConfirmChannel();
    try {
      await channel.assertQueue(queue, { durable: false });
      await channel.prefetch(0);
      // The consumer takes everything and acks nothing, like a worker hung after receiving.
      await channel.consume(queue, () => undefined, { noAck: false });
      const publishSome = async () => {
        for (let i = 0; i < 15; i++) publisher.sendToQueue(queue, Buffer.from(`m${i}`));
        await publisher.waitForConfirms();
      };
      // Keep it rising sweep after sweep until the alert names the queue.
      let stop = false;
      const feeding = (async () => {
        while (!stop) {
          await publishSome();
          await new Promise((resolve) => setTimeout(resolve, 700));
        }
      })();
      try {
        const post = await alertFor('stuck-consumers@default', queue);
        expect(post.params.text).toMatch(/^WARNING/);
        stop = true;
        await feeding;
        await channel.close();
        await resolvedEdit(post);
      } finally {
        stop = true;
        await feeding;
      }
    } finally {
      await channel.close().catch(() => undefined);
      const cleanup = await amqp.createChannel();
      await cleanup.deleteQueue(queue).catch(() => undefined);
      await cleanup.close().catch(() => undefined);
      await publisher.close().catch(() => undefined);
    }
  });

  // On 3.10 a mirroring policy covers them; on 4.0 nothing but the quorum type does.
  it('policy coverage: queues matching health.haPattern that no mirroring policy covers', async () => {
    const queues = [`${PREFIX}.ha.scheduler`, `${PREFIX}.ha.conductor`];
    const policy = `${PREFIX}-ha`;
    const channel = await amqp.createChannel();
    try {
      for (const q of queues) await channel.assertQueue(q, { durable: true });
      const post = await alertFor('policy-coverage@default', queues[0] as string);
      expect(alertText(post)).toContain(queues[1]);
      if (desc.rabbitmq.series !== '3.10') {
        // RabbitMQ 4 has no mirroring: the finding says so, and the fix is quorum queues in their place.
        expect(alertText(post)).toContain('which RabbitMQ 4 does not replicate');
        for (const q of queues) {
          await channel.deleteQueue(q);
          await channel.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        }
        await resolvedEdit(post);
        return;
      }
      // The fix the finding suggests on 3.x: a mirroring policy over the pattern.
      const set = await stack.rabbitmqctl(node1, [
        'set_policy',
        policy,
        `^${PREFIX}\\.ha\\.`,
        '{"ha-mode":"exactly","ha-params":2,"ha-sync-mode":"automatic"}',
        '--apply-to',
        'queues',
      ]);
      expect(set.code).toBe(0);
      await resolvedEdit(post);
    } finally {
      for (const q of queues) await channel.deleteQueue(q).catch(() => undefined);
      await channel.close().catch(() => undefined);
      await stack.rabbitmqctl(node1, ['clear_policy', policy]);
    }
  });

  it('master imbalance: every quorum queue led by the node its clients declared them on', async () => {
    const management = stackManagement(desc);
    // Queues earlier files left are all led by the node their clients used; evened out first, so that deleting
    // this test's pile-up leaves a cluster the check calls balanced.
    const ballast = await balanceLeaders(desc, management, PREFIX);
    await waitUntil(
      async () => (await leaderSpread(desc, management)) === 0,
      'every node to lead as many queues as the others before the pile-up',
    );
    // at least eight, more where queues earlier files left behind would dilute the pile-up (leader-pileup.ts)
    const count = await pileUpSize(management, node1, 8);
    expect(count, 'queues to declare for a pile-up').toBeLessThan(400);
    const queues = Array.from({ length: count }, (_, i) => `${PREFIX}.led.${i}`);
    const channel = await amqp.createChannel();
    try {
      const since = fake.calls.at(-1)?.seq ?? 0;
      // Declared through node1 with the client-local leader locator: node1 leads them all.
      for (const q of queues) {
        await channel.assertQueue(q, {
          durable: true,
          arguments: { 'x-queue-type': 'quorum', 'x-queue-leader-locator': 'client-local' },
        });
      }
      // Posted, or (when an earlier imbalance had not been seen resolved yet) edited while firing.
      const firing = await firingAlert('master-imbalance@default', node1, since);
      expect(firing.params.text).toMatch(/^INFO/);
      for (const q of queues) await channel.deleteQueue(q);
      await resolvedEdit(firing);
    } finally {
      for (const q of [...queues, ...ballast]) await channel.deleteQueue(q).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  }, 180_000);

  it('quorum: a quorum queue loses its quorum when two of its three members stop', async () => {
    const queue = `${PREFIX}.quorum`;
    const channel = await amqp.createChannel();
    onTestFinished(async () => {
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    });
    restoreWhenFinished(desc, stack, async () => {
      await stack.rabbitmqctl(node2, ['start_app']);
      await stack.rabbitmqctl(node3, ['start_app']);
    });
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 3 },
    });
    // An earlier quorum alert (from the leader-imbalance test's queues) must not be mistaken for this one.
    const earlier = new Set(fake.calls.map((c) => (c.reply as { ts?: string } | undefined)?.ts));
    // One member down: quorum holds, but the other two are now quorum-critical.
    expect((await stack.rabbitmqctl(node3, ['stop_app'])).code).toBe(0);
    const critical = await fake.waitForCall(
      'chat.postMessage',
      (c) =>
        !c.params.thread_ts &&
        !earlier.has((c.reply as { ts?: string } | undefined)?.ts) &&
        alertText(c).includes('alert `quorum@default`') &&
        alertText(c).includes('would leave quorum queues without quorum'),
      ALERT_TIMEOUT,
    );
    expect(critical.params.text).toMatch(/^CRITICAL/);
    // Two down: the queue itself has lost its quorum, and the same message says so.
    expect((await stack.rabbitmqctl(node2, ['stop_app'])).code).toBe(0);
    await editOf(critical, 'lost its quorum');
    expect((await stack.rabbitmqctl(node2, ['start_app'])).code).toBe(0);
    expect((await stack.rabbitmqctl(node3, ['start_app'])).code).toBe(0);
    await resolvedEdit(critical);
  }, 240_000);
});
