/**
 * Slack failing while an alert fires and resolves: 500s, then a 429 with Retry-After, for the post; 500s for the
 * resolving edit. The alert state in Redis stays ahead of Slack and warren catches up: the alert is posted exactly
 * once, and the original message is still the one edited to resolved.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, startHarnessWarren } from '../support/warren-harness.js';

const REDIS_DB = 15;
const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
tap:
  enabled: false
health:
  interval: 1s
  defaultFor: 1
  thresholds:
    backlogMessages: 50
`;

describe('health alerts while Slack fails', () => {
  const stack = inject('stack');
  const queue = `warren-test-outage-${randomUUID().slice(0, 8)}`;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;

  const ours = (c: RecordedCall) =>
    c.params.channel === 'C0ALERTS' && !c.params.thread_ts && JSON.stringify(c.params.blocks ?? []).includes(queue);

  beforeAll(async () => {
    await flushHarnessRedis(stack, REDIS_DB);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, redisDb: REDIS_DB });
  });

  afterAll(async () => {
    await warren?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('posts the alert once after 500s and a 429, and resolves it in place after failed edits', async () => {
    fake.failNext('chat.postMessage', { status: 500 }, 3);
    fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '1' } });
    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();

    const posted = await fake.waitForCall('chat.postMessage', (c) => ours(c) && c.status === 200, 90_000);
    const attempts = fake.callsTo('chat.postMessage').filter(ours);
    expect(attempts.map((c) => c.status)).toEqual([500, 500, 500, 429, 200]);
    const ts = (posted.reply as { ts: string }).ts;

    fake.failNext('chat.update', { status: 500 }, 2);
    await channel.purgeQueue(queue);
    await channel.close();
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && c.status === 200 && String(c.params.text).startsWith('RESOLVED'),
      90_000,
    );
    // Sweeps went on meanwhile; still the one message.
    await waitUntil(() => fake.callsTo('chat.update').some((c) => c.status === 500), 'the failed edits to be seen');
    expect(fake.callsTo('chat.postMessage').filter((c) => ours(c) && c.status === 200)).toHaveLength(1);
  }, 200_000);
});
