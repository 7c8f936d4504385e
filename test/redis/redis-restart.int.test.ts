/**
 * Redis killed under a running warren and started again from its AOF (a Redis of this test's own, not the
 * stack's). While it is down warren says so in /readyz and keeps running; once it is back, the firing alert is not
 * posted again and keeps being swept, the silence and the pending approval are still there, and the approval goes
 * through to a verified run.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Warren } from '../../src/warren.js';
import { type AofRedis, startAofRedis } from '../support/aof-redis.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { waitUntil } from '../support/wait-until.js';
import { click, counterSum, slash, startHarnessWarren } from '../support/warren-harness.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0OPS';
const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
access:
  operators: [${OPERATOR}, ${APPROVER}]
  approvers: [${APPROVER}]
tap:
  enabled: false
health:
  interval: 1s
  defaultFor: 1
  thresholds:
    backlogMessages: 50
`;

describe('Redis restarted under warren', () => {
  const stack = inject('stack');
  const queue = `warren-test-redis-${randomUUID().slice(0, 8)}`;
  let redis: AofRedis;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;

  const backlogPosts = () =>
    fake
      .callsTo('chat.postMessage')
      .filter(
        (c) =>
          c.params.channel === 'C0ALERTS' && !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(queue),
      );
  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${warren.httpPort}/readyz`);
    return { status: response.status, body: (await response.json()) as { checks: Record<string, boolean> } };
  };

  beforeAll(async () => {
    redis = await startAofRedis();
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.close();
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, redisUrl: redis.url });
  });

  afterAll(async () => {
    await warren?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
    await redis?.remove();
  });

  it('keeps alert state, silences and pending approvals across a Redis crash, and says when it is down', async () => {
    await waitUntil(() => backlogPosts().length === 1, 'the backlog alert', 30_000);
    const silence = String(
      (await slash(warren, fake, OPERATOR, 'silence zombie-queues 2h during the redis test')).text,
    );
    expect(silence).toMatch(/silenced `zombie-queues/);
    // The plan counts the queue's messages through the management API, which trails the broker by seconds.
    const runId = await waitUntil(
      async () => {
        const request = String((await slash(warren, fake, OPERATOR, `fix purge-queue ${queue}`, CHANNEL)).text);
        return /run `(r-[0-9a-f]{8})`/.exec(request)?.[1];
      },
      'a purge-queue run to be planned',
      30_000,
    );
    const post: RecordedCall = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === CHANNEL && JSON.stringify(c.params.blocks ?? []).includes(runId),
      20_000,
    );

    await redis.kill();
    await waitUntil(async () => (await readyz()).status === 503, '/readyz to report Redis down', 20_000);
    expect((await readyz()).body.checks.redis).toBe(false);
    // warren itself is alive, and answers what needs no Redis.
    expect((await fetch(`http://127.0.0.1:${warren.httpPort}/healthz`)).status).toBe(200);

    await redis.start();
    await waitUntil(async () => (await readyz()).status === 200, '/readyz to report ready again', 30_000);
    const backAt = Date.now();
    const sweepsBack = await counterSum(warren, 'warren_health_sweeps_total', { outcome: 'ok' });
    // A sweep running when Redis died left its lock (60 s at most) and its BullMQ job (re-run after the stalled-job
    // check, 30 s) behind in the AOF: sweeps resume once they lapse, by themselves.
    await waitUntil(
      async () => (await counterSum(warren, 'warren_health_sweeps_total', { outcome: 'ok' })) >= sweepsBack + 3,
      'three sweeps after Redis came back',
      90_000,
    );
    console.log(`sweeps resumed ${((Date.now() - backAt) / 1000).toFixed(1)} s after Redis was back`);
    // Still firing, still the one message: the alert state came back from the AOF.
    expect(backlogPosts()).toHaveLength(1);
    expect(String((await slash(warren, fake, OPERATOR, 'silences')).text)).toContain('during the redis test');

    const approved = await click(warren, fake, {
      user: APPROVER,
      actionId: 'warren:run:approve',
      value: runId,
      channel: CHANNEL,
      messageTs: (post.reply as { ts: string }).ts,
    });
    expect(String(approved.text)).toMatch(/You approved/);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === (post.reply as { ts: string }).ts && String(c.params.text).startsWith('Done and verified'),
      60_000,
    );
  }, 240_000);
});
