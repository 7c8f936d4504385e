/**
 * Slack failing while an alert fires and resolves: 500s, then a 429 with Retry-After, for the post; 500s for the
 * resolving edit. The alert state in Redis stays ahead of Slack and warren catches up: the alert is posted exactly
 * once, and the original message is still the one edited to resolved. Then an alert that resolves and fires again
 * while Slack is down: the old message still gets its RESOLVED edit and its reply before the new one is posted.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AlertState } from '../../src/health/alert-state.js';
import { CHECK_IDS } from '../../src/health/check-ids.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys, SWEEPING_YAML, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('health-slack-outage');
// Only the backlog alert this file makes: on a cluster other files used (a node rejoined afresh, leftovers), any
// other check may post and take the Slack failures meant for it.
const YAML = `${SWEEPING_YAML}
  disabled: [${CHECK_IDS.filter((id) => id !== 'backlog').join(', ')}]
  thresholds:
    backlogMessages: 50
`;

describe('health alerts while Slack fails', () => {
  const stack = inject('stack');
  const queue = `warren-test-outage-${randomUUID().slice(0, 8)}`;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  let redis: Redis;

  const ours = (c: RecordedCall) =>
    c.params.channel === 'C0ALERTS' && !c.params.thread_ts && JSON.stringify(c.params.blocks ?? []).includes(queue);

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    redis = new Redis(stack.redisUrl);
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    redis?.disconnect();
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

  /** The backlog alert as warren stored it: what Slack is made to match. */
  async function stored(): Promise<AlertState | undefined> {
    const json = await redis.get(`${KEYS}health:alert:backlog@default`);
    return json ? (JSON.parse(json) as AlertState) : undefined;
  }

  async function fill(): Promise<void> {
    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.close();
  }

  async function purge(): Promise<void> {
    const channel = await amqp.createChannel();
    await channel.purgeQueue(queue);
    await channel.close();
  }

  it('finishes the old message (RESOLVED, its reply) before posting the new one when it fired again meanwhile', async () => {
    // The first test's resolution reply may still be on its way: start from a message Slack shows resolved.
    // Settled: no reply left in the alert, and none of its messages still waiting in the outbox.
    await waitUntil(
      async () =>
        (await stored())?.replies.length === 0 &&
        !(await redis.smembers(`${KEYS}health:outbox`)).some((episode) => episode.startsWith('backlog@default#')),
      'the earlier alert to be settled',
      60_000,
    );
    fake.reset();
    await fill();
    const first = await fake.waitForCall('chat.postMessage', (c) => ours(c) && c.status === 200, 60_000);
    const firstTs = (first.reply as { ts: string }).ts;

    const outage = fake.outage(['chat.postMessage', 'chat.update'], [{ status: 503 }]);
    try {
      await purge();
      await waitUntil(async () => (await stored())?.status === 'resolved', 'the alert to resolve in Redis', 60_000);
      await fill();
      await waitUntil(async () => {
        const alert = await stored();
        return alert?.status === 'firing' && alert.ts === undefined;
      }, 'the alert to fire again in Redis, not posted yet');
      await waitUntil(() => outage.failed() > 0, 'warren to try Slack during the outage');
    } finally {
      outage.end();
    }

    const second = await fake.waitForCall(
      'chat.postMessage',
      (c) => ours(c) && c.status === 200 && c !== first,
      90_000,
    );
    const calls = fake.calls.filter((c) => c.status === 200);
    const resolvedEdit = calls.findIndex(
      (c) => c.method === 'chat.update' && c.params.ts === firstTs && String(c.params.text).startsWith('RESOLVED'),
    );
    const resolvedReply = calls.findIndex(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.params.thread_ts === firstTs &&
        String(c.params.text).startsWith(':white_check_mark: Resolved after'),
    );
    expect(resolvedEdit).toBeGreaterThanOrEqual(0);
    expect(resolvedReply).toBeGreaterThan(resolvedEdit);
    expect(calls.indexOf(second)).toBeGreaterThan(resolvedReply);
    expect((second.reply as { ts: string }).ts).not.toBe(firstTs);
    await waitUntil(async () => (await stored())?.superseded === undefined, 'the carried message to be dropped');
    expect(fake.callsTo('chat.postMessage').filter((c) => ours(c) && c.status === 200)).toEqual([first, second]);

    await purge();
    await waitUntil(async () => (await stored())?.status === 'resolved', 'the second alert to resolve');
  }, 240_000);
});
