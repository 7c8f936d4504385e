/**
 * Slack's Web API hanging (requests accepted, never answered) while an alert fires: warren's calls time out after
 * `slack.apiTimeout`, its sweeps go on meanwhile (queuing thread replies and edits in Redis), a slash command is
 * still acknowledged at once, and after Slack recovers every message arrives once, in order in its thread.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AlertState } from '../../src/health/alert-state.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { HangingSlack } from '../support/hanging-slack.js';
import { postToBolt, slashCommandBody } from '../support/slack-signing.js';
import { waitUntil } from '../support/wait-until.js';
import {
  eventsUrl,
  flushHarnessRedis,
  harnessKeys,
  SIGNING_SECRET,
  startHarnessWarren,
} from '../support/warren-harness.js';

const KEYS = harnessKeys('health-slack-timeout');
const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
  apiTimeout: 1s
tap:
  enabled: false
health:
  interval: 1s
  defaultFor: 1
  repeatInterval: 1s
  thresholds:
    backlogMessages: 50
`;

describe('health alerts while Slack hangs', () => {
  const stack = inject('stack');
  const suffix = randomUUID().slice(0, 8);
  const queues = [`warren-test-hang-a-${suffix}`, `warren-test-hang-b-${suffix}`];
  let fake: FakeSlack;
  let slack: HangingSlack;
  let warren: Warren;
  let amqp: ChannelModel;

  const delivered = (method: string, predicate: (c: RecordedCall) => boolean) =>
    fake.callsTo(method).filter((c) => c.status === 200 && predicate(c));
  const mentions = (c: RecordedCall, text: string) => JSON.stringify(c.params.blocks ?? []).includes(text);
  const backlogAlert = async (): Promise<AlertState | undefined> => {
    const [key] = await warren.redis.keys(`${KEYS}health:alert:backlog@*`);
    const json = key ? await warren.redis.get(key) : null;
    return json ? (JSON.parse(json) as AlertState) : undefined;
  };

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    slack = await HangingSlack.start(fake);
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({
      stack,
      fake,
      yaml: YAML,
      keyPrefix: KEYS,
      env: { SLACK_API_URL: slack.apiUrl },
    });
  });

  afterAll(async () => {
    await warren?.stop();
    const channel = await amqp?.createChannel();
    for (const queue of queues) await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await slack?.stop();
    await fake?.stop();
  });

  it('posts, edits and threads everything once and in order after the hang; commands are acknowledged meanwhile', async () => {
    const [a, b] = queues as [string, string];
    const channel = await amqp.createConfirmChannel();
    const backlog = async (queue: string) => {
      await channel.assertQueue(queue, { durable: false });
      for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
      await channel.waitForConfirms();
    };
    await backlog(a);
    const posted = await fake.waitForCall('chat.postMessage', (c) => c.status === 200 && mentions(c, a), 60_000);
    const ts = (posted.reply as { ts: string }).ts;

    slack.hang();
    const hangStarted = Date.now();
    // The alert changes during the hang (a second queue): an edit Slack does not get yet.
    await backlog(b);
    const responseId = randomUUID();
    const command = slashCommandBody({
      text: 'status',
      user_id: 'U0OPER',
      channel_id: 'C0OPS',
      response_url: fake.responseUrl(responseId),
    });
    const ack = await postToBolt(eventsUrl(warren), SIGNING_SECRET, command);
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(3_000);
    await fake.waitForResponse((r) => r.id === responseId, 30_000);
    // Sweeps go on while Slack hangs: reminders pile up in Redis, and calls keep being tried and timing out.
    // The replies wait in the alert message's outbox entry (src/chat/slack-outbox.ts) until Slack takes them.
    const queued = await waitUntil(
      async () => {
        const alert = await backlogAlert();
        if (!alert) return undefined;
        const key = `${KEYS}health:outbox:${alert.id}#${alert.firedAt}:replies`;
        const replies = await warren.redis.lrange(key, 0, -1);
        return replies.length >= 3 && slack.heldMethods.length >= 3 && { replies };
      },
      'three reminders queued and three calls held during the hang',
      60_000,
    );
    slack.recover();
    const hangMs = Date.now() - hangStarted;

    await waitUntil(
      () => delivered('chat.update', (c) => c.params.ts === ts && mentions(c, b)).length > 0,
      'the edit made during the hang',
      60_000,
    );
    await channel.purgeQueue(a);
    await channel.purgeQueue(b);
    await channel.close();
    await fake.waitForCall(
      'chat.postMessage',
      (c) => c.status === 200 && c.params.thread_ts === ts && String(c.params.text).includes('Resolved'),
      60_000,
    );

    expect(delivered('chat.postMessage', (c) => !c.params.thread_ts && (mentions(c, a) || mentions(c, b)))).toEqual([
      posted,
    ]);
    const thread = delivered('chat.postMessage', (c) => c.params.thread_ts === ts).map((c) => String(c.params.text));
    // Each reminder carries the alert's age, so any duplicate would show as a repeated text.
    expect(new Set(thread).size).toBe(thread.length);
    const start = thread.indexOf(queued.replies[0] as string);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(thread.slice(start, start + queued.replies.length)).toEqual(queued.replies);
    expect(thread.at(-1)).toMatch(/^:white_check_mark: Resolved after/);
    const lastEdit = delivered('chat.update', (c) => c.params.ts === ts).at(-1);
    expect(String(lastEdit?.params.text)).toMatch(/^RESOLVED/);
    console.info(
      `Slack hung for ${hangMs} ms; ${slack.heldMethods.length} calls held unanswered ` +
        `(${[...new Set(slack.heldMethods)].join(', ')}); ${queued.replies.length} replies queued meanwhile; ` +
        `${thread.length} thread replies delivered, none twice; the command acknowledged in ${Math.round(ack.ms)} ms`,
    );
  }, 240_000);
});
