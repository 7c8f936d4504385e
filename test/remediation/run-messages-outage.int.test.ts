/**
 * A run's messages while Slack's Web API is down (500s, 503s and 429s with Retry-After, for every attempt): the
 * request message with its buttons when the run is asked for, and later the step results, the outcome and the
 * message's edits while the run executes, with warren restarted before Slack comes back. Each must reach Slack once
 * Slack is back, once, and in order; the run itself must not wait for Slack.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachLocalStack } from '../../src/devstack/index.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import { SENT_AGAIN } from '../../src/remediation/run-messenger.js';
import { RunStore } from '../../src/remediation/run-store.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { type FailureReply, FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { HangingSlack } from '../support/hanging-slack.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import {
  click,
  flushHarnessRedis,
  harnessKeys,
  remediationTestYaml,
  slash,
  startHarnessWarren,
} from '../support/warren-harness.js';
import { deleteZombies, makeZombie, type Zombie } from '../support/zombie-queue.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0OPS';
// Files run one at a time and each flushes its database first; this one shares remediation-kill's.
const KEYS = harnessKeys('remediation-run-messages-outage');
const YAML = remediationTestYaml(
  { operators: [OPERATOR, APPROVER], approvers: [OPERATOR, APPROVER], channel: CHANNEL },
  { zombieIdleAfter: '1h' },
);
const DOWN: FailureReply[] = [{ status: 500 }, { status: 503 }, { status: 429, headers: { 'Retry-After': '1' } }];

const text = (reply: Record<string, unknown>) => String(reply.text ?? '');
const answered = (c: RecordedCall) => c.status === 200;

describe('run messages while Slack is down', () => {
  const desc = inject('stack');
  const management = () => stackManagement(desc);
  const servers: ChildProcess[] = [];
  const made: Zombie[] = [];
  let fake: FakeSlack;
  let amqp: ChannelModel;
  let redis: Redis;
  let store: RunStore;
  let warren: Warren;
  let hanging: HangingSlack | undefined;

  const start = () => startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
  const zombies = async (prefix: string) => {
    for (const topic of [`${prefix}-a`, `${prefix}-b`]) {
      made.push(
        await makeZombie({ amqpUrl: desc.nodes[0]?.amqpUrl as string, amqp, management: management(), topic, servers }),
      );
    }
  };
  /** Asks for a run over both zombies of `prefix`; the plan trails the broker by a few seconds. */
  const request = async (prefix: string) => {
    let reply = '';
    const runId = await waitUntil(
      async () => {
        reply = text(await slash(warren, fake, OPERATOR, `fix delete-zombie-queues ${prefix}-*`, CHANNEL));
        return reply.includes('2 queue(s)') ? /run `(r-[0-9a-f]{8})`/.exec(reply)?.[1] : undefined;
      },
      'a plan for both zombies',
      30_000,
    );
    return { runId, reply };
  };
  const approve = async (runId: string, ts: string) =>
    text(
      await click(warren, fake, {
        user: APPROVER,
        actionId: 'warren:run:approve',
        value: runId,
        channel: CHANNEL,
        messageTs: ts,
      }),
    );
  const threadReplies = (ts: string) =>
    fake
      .callsTo('chat.postMessage')
      .filter((c) => c.params.thread_ts === ts && answered(c))
      .map((c) => String(c.params.text));

  beforeAll(async () => {
    await restoreCluster(desc, attachLocalStack(desc));
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    redis = new Redis(desc.redisUrl);
    store = new RunStore(redis, `${KEYS}remediation:`);
    warren = await start();
  });

  afterAll(async () => {
    await warren?.stop();
    await hanging?.stop();
    for (const child of servers) child.kill('SIGKILL');
    await deleteZombies(amqp, made);
    redis?.disconnect();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('posts the request once Slack is back, then every step result once and in order, across a restart', async () => {
    const prefix = `warren-outage-${randomUUID().slice(0, 6)}`;
    await zombies(prefix);

    // 1. Slack down when the run is requested: the requester is told, and the request is posted once Slack is back.
    const requestOutage = fake.outage(['chat.postMessage'], DOWN);
    const { runId, reply } = await request(prefix);
    expect(reply).toContain('Slack did not take the run message yet');
    expect(requestOutage.failed()).toBeGreaterThan(0);
    const isRequest = (c: RecordedCall) =>
      c.params.channel === CHANNEL && !c.params.thread_ts && JSON.stringify(c.params.blocks ?? []).includes(runId);
    expect(fake.callsTo('chat.postMessage').filter((c) => isRequest(c) && answered(c))).toHaveLength(0);
    requestOutage.end();
    const posted = await fake.waitForCall('chat.postMessage', (c) => isRequest(c) && answered(c), 30_000);
    const ts = (posted.reply as { ts: string }).ts;
    expect(JSON.stringify(posted.params.blocks)).toContain('Approve');
    await waitUntil(async () => (await store.get(runId))?.message?.ts === ts, 'the request message stored', 10_000);

    // 2. Slack down for every post and edit while the run executes; warren restarted before Slack is back.
    const runOutage = fake.outage(['chat.postMessage', 'chat.update'], DOWN);
    expect(await approve(runId, ts)).toMatch(/You approved/);
    await waitUntil(async () => (await store.get(runId))?.status === 'succeeded', 'the run to finish', 90_000);
    for (const z of made) expect(await freshQueue(management(), '/', z.zombie)).toBeUndefined();
    expect(threadReplies(ts)).toEqual([]);
    await warren.stop();
    warren = await start();
    const failedWhileDown = runOutage.failed();
    expect(failedWhileDown).toBeGreaterThan(0);
    runOutage.end();

    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && answered(c) && String(c.params.text).startsWith('Done and verified'),
      60_000,
    );
    await waitUntil(() => threadReplies(ts).some((r) => r.includes('succeeded')), 'the outcome in the thread', 60_000);
    const replies = threadReplies(ts);
    expect(replies).toHaveLength(3);
    expect(replies[0]).toMatch(/^:white_check_mark: 1\/2 /);
    expect(replies[1]).toMatch(/^:white_check_mark: 2\/2 /);
    expect(replies[2]).toMatch(/^:white_check_mark: succeeded: /);
    // Delivered means dequeued: nothing is left for a later sweep to post a second time.
    expect(await redis.smembers(`${KEYS}remediation:outbox`)).toEqual([]);
    expect(fake.callsTo('chat.postMessage').filter((c) => isRequest(c) && answered(c))).toHaveLength(1);
    console.log(
      `[figures] run messages: ${failedWhileDown} failed Slack calls during the run; ` +
        `${replies.length} replies posted once, in order, after the restart`,
    );
  }, 240_000);

  it('delivers every run message once, in order, after Slack stopped answering during the run', async () => {
    await warren.stop();
    hanging = await HangingSlack.start(fake);
    warren = await startHarnessWarren({
      stack: desc,
      fake,
      yaml: YAML.replace('channelInterval: 0ms', 'channelInterval: 0ms\n  apiTimeout: 1s'),
      keyPrefix: KEYS,
      env: { SLACK_API_URL: hanging.apiUrl },
    });
    const prefix = `warren-hang-${randomUUID().slice(0, 6)}`;
    await zombies(prefix);
    const { runId } = await request(prefix);
    const posted = await fake.waitForCall(
      'chat.postMessage',
      (c) => answered(c) && !c.params.thread_ts && JSON.stringify(c.params.blocks ?? []).includes(runId),
      30_000,
    );
    const ts = (posted.reply as { ts: string }).ts;
    await waitUntil(async () => (await store.get(runId))?.message?.ts === ts, 'the request message stored', 10_000);

    // Slack takes every call and never answers: each attempt times out after 1 s, and Slack never processed it.
    hanging.hang();
    expect(await approve(runId, ts)).toMatch(/You approved/);
    await waitUntil(async () => (await store.get(runId))?.status === 'succeeded', 'the run to finish', 90_000);
    const timedOut = hanging.heldMethods.length;
    expect(timedOut).toBeGreaterThan(0);
    hanging.recover();

    await waitUntil(() => threadReplies(ts).some((r) => r.includes('succeeded')), 'the outcome in the thread', 60_000);
    const replies = threadReplies(ts);
    // A reply whose post was under way when Slack stopped answering may or may not have arrived; warren cannot
    // know, so it posts it again and says so. Slack processed none of the timed-out calls here, so each reply is
    // in the thread exactly once, in order, whether marked or not.
    expect(replies.map((r) => r.replace(` ${SENT_AGAIN}`, ''))).toEqual([
      expect.stringMatching(/^:white_check_mark: 1\/2 /),
      expect.stringMatching(/^:white_check_mark: 2\/2 /),
      expect.stringMatching(/^:white_check_mark: succeeded: /),
    ]);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && answered(c) && String(c.params.text).startsWith('Done and verified'),
      30_000,
    );
    console.log(
      `[figures] run messages through a hang: ${timedOut} calls timed out (${hanging.heldMethods.join(', ')}); ` +
        `${replies.length} replies posted once each, in order, ${replies.filter((r) => r.includes(SENT_AGAIN)).length} marked`,
    );
  }, 240_000);
});
