/**
 * The alert lifecycle end to end on the real cluster and Redis, through the real Bolt receiver and a fake Slack:
 * a real backlog fires once after its `for` sweeps, is edited in place as it grows, is acked and silenced with
 * signed button clicks (refusals included), survives a warren restart without a second post, and resolves by
 * editing the original message and replying in its thread. Then two replicas on one Redis: one sweep per interval,
 * one post per alert.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import {
  click,
  counterSum,
  flushHarnessRedis,
  harnessKeys,
  slash,
  startHarnessWarren,
} from '../support/warren-harness.js';

const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
access:
  operators: [U0OPER]
tap:
  enabled: false
health:
  interval: 1s
  defaultFor: 1
  for:
    backlog: 2
  thresholds:
    backlogMessages: 50
`;

const ALERT = 'backlog@default';
const KEYS = harnessKeys('health-alert-lifecycle');
/** The two-replica test's own keys. */
const REPLICA_KEYS = harnessKeys('health-alert-lifecycle-replicas');

describe('health alert lifecycle', () => {
  const stack = inject('stack');
  const queue = `warren-test-backlog-${randomUUID().slice(0, 8)}`;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;

  const mentionsQueue = (c: RecordedCall) =>
    c.params.channel === 'C0ALERTS' && JSON.stringify(c.params.blocks ?? c.params.text).includes(queue);
  const alertPosts = () => fake.callsTo('chat.postMessage').filter((c) => mentionsQueue(c) && !c.params.thread_ts);
  const alertTs = (): string => {
    const [first] = alertPosts();
    if (!first) throw new Error('the alert was never posted');
    return (first.reply as { ts: string }).ts;
  };

  async function publish(n: number): Promise<void> {
    const channel = await amqp.createConfirmChannel();
    for (let i = 0; i < n; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.close();
  }

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    const channel = await amqp.createChannel();
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    await channel.close();
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue);
    await amqp?.close();
    await fake?.stop();
  });

  it('fires once, after its for-sweeps, naming the queue, with Silence and Ack buttons', async () => {
    await publish(60);
    const sweepsAtFill = await counterSum(warren, 'warren_health_sweeps_total');
    const post = await fake.waitForCall('chat.postMessage', mentionsQueue, 30_000);
    // `for: 2` means the sweep that first saw the backlog did not post; it completed before the one that did.
    expect((await counterSum(warren, 'warren_health_sweeps_total')) - sweepsAtFill).toBeGreaterThanOrEqual(1);
    const blocks = JSON.stringify(post.params.blocks);
    expect(blocks).toContain('Silence 1h');
    expect(blocks).toContain('warren:alert:ack');
    expect(blocks).toContain(ALERT);
    expect(String(post.params.text)).toContain('WARNING');
    expect(blocks).not.toContain(stack.password);
  });

  it('edits the same message in place as the backlog grows instead of posting again', async () => {
    const ts = alertTs();
    await publish(40);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && JSON.stringify(c.params.blocks).includes('100'),
      30_000,
    );
    expect(alertPosts()).toHaveLength(1);
  });

  it('answers /rabbit health and /rabbit alerts with the backlog', async () => {
    const health = await slash(warren, fake, 'U0BOB', 'health');
    expect(health.response_type).toBe('ephemeral');
    expect(String(health.text)).toContain(queue);
    const alerts = await slash(warren, fake, 'U0BOB', 'alerts');
    expect(String(alerts.text)).toContain(`\`${ALERT}\``);
  });

  it('takes an Ack from anyone, once, and shows who is on it', async () => {
    const ts = alertTs();
    const acked = await click(warren, fake, { user: 'U0BOB', actionId: 'warren:alert:ack', value: ALERT });
    expect(acked).toMatchObject({ response_type: 'ephemeral' });
    expect(String(acked.text)).toContain(`You acked \`${ALERT}\``);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && JSON.stringify(c.params.blocks).includes('acked by <@U0BOB>'),
      30_000,
    );
    const again = await click(warren, fake, { user: 'U0CAROL', actionId: 'warren:alert:ack', value: ALERT });
    expect(String(again.text)).toContain('was already acked by <@U0BOB>');
  });

  it('refuses Silence from a non-operator and forged button values, and silences for an operator', async () => {
    const refused = await click(warren, fake, { user: 'U0BOB', actionId: 'warren:alert:silence', value: ALERT });
    expect(String(refused.text)).toContain('Not allowed: only operators');
    const forged = await click(warren, fake, { user: 'U0OPER', actionId: 'warren:alert:silence', value: '../x' });
    expect(String(forged.text)).toBe('That button does not name a warren alert.');
    const unknown = await click(warren, fake, {
      user: 'U0OPER',
      actionId: 'warren:alert:silence',
      value: 'backlog@nowhere',
    });
    expect(String(unknown.text)).toContain('no alert or check `backlog@nowhere`');
    const ts = alertTs();
    const silenced = await click(warren, fake, { user: 'U0OPER', actionId: 'warren:alert:silence', value: ALERT });
    expect(String(silenced.text)).toContain(`Silenced \`${ALERT}\``);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && JSON.stringify(c.params.blocks).includes('silenced by <@U0OPER>'),
      30_000,
    );
    const list = await slash(warren, fake, 'U0BOB', 'silences');
    expect(String(list.text)).toContain(`on \`${ALERT}\` by <@U0OPER>`);
  });

  it('does not post again after a restart, and keeps sweeping', async () => {
    await warren.stop();
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
    await waitUntil(async () => (await counterSum(warren, 'warren_health_sweeps_total')) >= 3, '3 sweeps', 30_000);
    expect(alertPosts()).toHaveLength(1);
  });

  it('resolves by editing the original message and replying in its thread', async () => {
    const ts = alertTs();
    const channel = await amqp.createChannel();
    await channel.purgeQueue(queue);
    await channel.close();
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      30_000,
    );
    const reply = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.thread_ts === ts && String(c.params.text).includes('Resolved after'),
      30_000,
    );
    expect(reply.params.channel).toBe('C0ALERTS');
    const alerts = await slash(warren, fake, 'U0BOB', 'alerts');
    expect(String(alerts.text)).not.toContain(ALERT);
    expect(alertPosts()).toHaveLength(1);
  });
});

describe('two warren replicas on one Redis', () => {
  const stack = inject('stack');
  const queue = `warren-test-replicas-${randomUUID().slice(0, 8)}`;
  let fake: FakeSlack;
  let replicas: Warren[] = [];
  let amqp: ChannelModel;

  beforeAll(async () => {
    await flushHarnessRedis(stack, REPLICA_KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[1]?.amqpUrl as string);
    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 80; i++) channel.sendToQueue(queue, Buffer.from('x'));
    await channel.waitForConfirms();
    await channel.close();
    replicas = await Promise.all([
      startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: REPLICA_KEYS }),
      startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: REPLICA_KEYS }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((w) => w.stop()));
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue);
    await amqp?.close();
    await fake?.stop();
  });

  it('sweeps once per interval between them and posts each alert once', async () => {
    const total = async () =>
      (await Promise.all(replicas.map((w) => counterSum(w, 'warren_health_sweeps_total')))).reduce((a, b) => a + b);
    const start = await total();
    const started = Date.now();
    await waitUntil(async () => (await total()) >= start + 6, '6 sweeps across both replicas', 30_000);
    // Six sweeps at one per 1 s interval take at least ~5 s; two sweeps per interval would take half that.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    const posts = () =>
      fake
        .callsTo('chat.postMessage')
        .filter((c) => !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(queue));
    await waitUntil(() => posts().length > 0, 'the backlog alert', 30_000);
    await waitUntil(async () => (await total()) >= start + 10, 'more sweeps', 30_000);
    expect(posts()).toHaveLength(1);
  });
});
