/**
 * Remediation end to end: a real warren (Bolt HTTP receiver, signed requests, fake Slack) against the real
 * 3-node cluster. A zombie fanout queue left by an RPC server killed with SIGKILL is deleted after a second user
 * approves, with the live sibling untouched; every refusal says why (self-approval, non-approver, replayed click,
 * tampered button, disallowed channel, expired request); a guard that changed between request and approval
 * aborts the run; pending approvals survive a restart; a leaky connection is closed; the audit trail has it all.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { attachLocalStack } from '../../src/devstack/index.js';
import { connectionSchema } from '../../src/management/schemas.js';
import { consumedQueues, freshConnection, freshQueue } from '../../src/remediation/broker-state.js';
import { RunStore } from '../../src/remediation/run-store.js';
import type { PlannedAction } from '../../src/remediation/workflow-definition.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { runCli } from '../support/run-cli.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import {
  approveRun,
  click,
  flushHarnessRedis,
  harnessKeys,
  remediationTestYaml,
  slash,
  startHarnessWarren,
} from '../support/warren-harness.js';
import { makeZombie as makeZombieQueue, type Zombie } from '../support/zombie-queue.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const STRANGER = 'U0STRANGER';
const CHANNEL = 'C0OPS';
const KEYS = harnessKeys('remediation-remediation-flow');

const YAML = remediationTestYaml(
  { operators: [OPERATOR, APPROVER], approvers: [OPERATOR, APPROVER], channel: CHANNEL },
  { approvalTtl: '10s', zombieIdleAfter: '1h' },
);

const text = (reply: Record<string, unknown>) => String(reply.text ?? '');

describe('remediation workflows through Slack', () => {
  const desc = inject('stack');
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  const servers: ChildProcess[] = [];
  const management = () => stackManagement(desc);

  /** A zombie: two servers of one topic, one killed hard, then casts that only the survivor reads. */
  const makeZombie = (topic = `warren-fix-${randomUUID().slice(0, 6)}`): Promise<Zombie> =>
    makeZombieQueue({ amqpUrl: desc.nodes[0]?.amqpUrl as string, amqp, management: management(), topic, servers });

  /** The approval request warren posted for `runId`. */
  async function requestMessage(runId: string): Promise<RecordedCall> {
    return fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === CHANNEL && !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(runId),
      20_000,
    );
  }

  async function finalUpdate(post: RecordedCall, status: string): Promise<RecordedCall> {
    const ts = (post.reply as { ts: string }).ts;
    return fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith(status),
      60_000,
    );
  }

  function runIdOf(reply: Record<string, unknown>): string {
    const id = /run `(r-[0-9a-f]{8})`/.exec(text(reply))?.[1];
    if (!id) throw new Error(`no run id in: ${text(reply)}`);
    return id;
  }

  const approve = (user: string, runId: string, post: RecordedCall) =>
    approveRun(warren, fake, { user, runId, post, channel: CHANNEL });

  beforeAll(async () => {
    await restoreCluster(desc, attachLocalStack(desc));
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    for (const child of servers) child.kill('SIGKILL');
    // the killed servers' fanout queues, zombies and siblings: classic queues on node 1 that later files would count
    await deleteQueuesMatching(desc, /^warren-(fix|resume)-/);
    await warren?.stop();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('deletes a zombie fanout queue after a second person approves, across a restart, leaving the sibling', async () => {
    const { zombie, sibling } = await makeZombie();
    const siblingServer = servers.at(-1) as ChildProcess;

    // The plan reads consumers from /api/consumers, which trails the broker by a few seconds.
    const dry = await waitUntil(
      async () => {
        const reply = await slash(warren, fake, STRANGER, `fix delete-zombie-queues ${zombie} --dry-run`, CHANNEL);
        // A refusal names the zombie too (the glob it was given): only a plan will do.
        return text(reply).includes('Dry run') ? reply : undefined;
      },
      'the dry run to plan the zombie',
      30_000,
    );
    expect(text(dry)).toContain('Dry run');
    expect(text(dry)).toContain(zombie);
    expect(text(dry)).not.toContain(sibling);

    const requested = await slash(warren, fake, OPERATOR, `fix delete-zombie-queues ${zombie}`, CHANNEL);
    expect(requested.response_type ?? 'ephemeral').toBe('ephemeral');
    const runId = runIdOf(requested);
    const post = await requestMessage(runId);
    expect(JSON.stringify(post.params.blocks)).toContain('warren:run:approve');
    expect(JSON.stringify(post.params.blocks)).toContain(zombie);

    expect(text(await approve(OPERATOR, runId, post))).toMatch(/two-person rule/);
    expect(text(await approve(STRANGER, runId, post))).toMatch(/Only approvers/);
    // A forged click: the right run id on another message.
    const forged = await click(warren, fake, {
      user: APPROVER,
      actionId: 'warren:run:approve',
      value: runId,
      channel: CHANNEL,
      messageTs: '1.000001',
    });
    expect(text(forged)).toMatch(/does not belong to run/);
    expect(await freshQueue(management(), '/', zombie)).toBeDefined();

    // The pending approval is in Redis, not in this process.
    await warren.stop();
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });

    expect(text(await approve(APPROVER, runId, post))).toMatch(/You approved/);
    const done = await finalUpdate(post, 'Done and verified');
    expect(JSON.stringify(done.params.blocks)).not.toContain('warren:run:approve');
    expect(await freshQueue(management(), '/', zombie)).toBeUndefined();
    // The sibling is left, and still consumed: asked of the consumer table (/api/consumers), as the guard asks,
    // since the queue's own consumer count comes from stats emitted every few seconds. A sibling server that died
    // meanwhile would be the stand-in failing, not the workflow: said so, with its exit code.
    expect(await freshQueue(management(), '/', sibling)).toBeDefined();
    expect(siblingServer.exitCode, 'the sibling rpc server exited').toBeNull();
    expect([...(await consumedQueues(management(), '/'))]).toContain(sibling);

    // A replayed or double click executes nothing.
    expect(text(await approve(APPROVER, runId, post))).toMatch(/already succeeded/);

    const audit = text(await slash(warren, fake, STRANGER, 'audit 30', CHANNEL));
    for (const event of ['requested', 'approval-refused', 'approved', 'step-done', 'verified']) {
      expect(audit).toContain(`*${event}*`);
    }

    // The compliance export: the same trail as JSON lines, oldest first.
    const cli = runCli(['audit-export'], { REDIS_URL: desc.redisUrl, REDIS_KEY_PREFIX: KEYS });
    expect(await cli.exit()).toBe(0);
    const lines = cli
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { run: string; event: string; user: string; at: string });
    const ours = lines.filter((l) => l.run === runId).map((l) => l.event);
    expect(ours).toEqual([
      'requested',
      'approval-refused',
      'approval-refused',
      'approved',
      'started',
      'step-done',
      'verified',
    ]);
    expect(lines.find((l) => l.run === runId && l.event === 'approved')?.user).toBe(APPROVER);
  });

  it('aborts when a guard no longer holds at approval time (a consumer attached meanwhile)', async () => {
    const { zombie } = await makeZombie();
    const runId = await waitUntil(
      async () => {
        const reply = await slash(warren, fake, OPERATOR, `fix delete-zombie-queues ${zombie}`, CHANNEL);
        return text(reply).includes('Requested approval') ? runIdOf(reply) : undefined;
      },
      'a run to be planned for the zombie',
      30_000,
    );
    const post = await requestMessage(runId);
    const channel = await amqp.createChannel();
    try {
      await channel.consume(zombie, () => undefined);
      await waitUntil(
        async () => (await freshQueue(management(), '/', zombie))?.consumers === 1,
        'the broker to report the new consumer',
        30_000,
      );
      expect(text(await approve(APPROVER, runId, post))).toMatch(/You approved/);
      const aborted = await finalUpdate(post, 'Aborted');
      expect(JSON.stringify(aborted.params.blocks)).toMatch(/guard no longer held/);
      expect(await freshQueue(management(), '/', zombie)).toBeDefined();
    } finally {
      await channel.close().catch(() => undefined);
    }
  });

  it('expires an unanswered request, after which approving it is refused', async () => {
    const queue = `warren-fix-purge-${randomUUID().slice(0, 6)}`;
    const channel = await amqp.createConfirmChannel();
    try {
      await channel.assertQueue(queue, { durable: false });
      for (let i = 0; i < 5; i++) channel.sendToQueue(queue, Buffer.from('x'));
      await channel.waitForConfirms();
      await waitUntil(
        async () => (await freshQueue(management(), '/', queue))?.messages_ready === 5,
        'the broker to count the messages',
        30_000,
      );
      const runId = runIdOf(await slash(warren, fake, OPERATOR, `fix purge-queue ${queue}`, CHANNEL));
      const post = await requestMessage(runId);
      await finalUpdate(post, 'Expired');
      expect(text(await approve(APPROVER, runId, post))).toMatch(/already expired/);
      expect((await freshQueue(management(), '/', queue))?.messages_ready).toBe(5);
    } finally {
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  });

  it('closes a leaky connection, naming its OpenStack service, once approved', async () => {
    const name = `nova-conductor:4242:${randomUUID()}`;
    const leaky = await connect(desc.nodes[1]?.amqpUrl as string, { clientProperties: { connection_name: name } });
    leaky.on('error', () => undefined);
    try {
      for (let i = 0; i < 120; i++) await leaky.createChannel();
      const connectionName = await waitUntil(
        async () => {
          const list = await management().get('/api/connections', z.array(connectionSchema));
          const ours = list.find((c) => c.client_properties.connection_name === name);
          return ours && ours.channels >= 120 ? ours.name : undefined;
        },
        'the broker to count 120 channels',
        30_000,
      );
      const runId = runIdOf(await slash(warren, fake, OPERATOR, 'fix close-leaky-connections nova-conductor', CHANNEL));
      const post = await requestMessage(runId);
      expect(JSON.stringify(post.params.blocks)).toContain('nova-conductor');
      expect(text(await approve(APPROVER, runId, post))).toMatch(/You approved/);
      await finalUpdate(post, 'Done and verified');
      expect(await freshConnection(management(), connectionName)).toBeUndefined();
    } finally {
      await leaky.close().catch(() => undefined);
    }
  });

  it('resumes a run interrupted between two steps without repeating the first, after a second person says so', async () => {
    const prefix = `warren-resume-${randomUUID().slice(0, 6)}`;
    const first = await makeZombie(`${prefix}-a`);
    const second = await makeZombie(`${prefix}-b`);
    const runId = await waitUntil(
      async () => {
        const reply = await slash(warren, fake, OPERATOR, `fix delete-zombie-queues ${prefix}-*`, CHANNEL);
        return text(reply).includes('2 queue(s)') ? runIdOf(reply) : undefined;
      },
      'a plan for both zombies',
      30_000,
    );
    const post = await requestMessage(runId);
    const ts = (post.reply as { ts: string }).ts;

    // What a warren killed after its first step leaves in Redis: the run running, step 1 recorded done (and done
    // on the broker), and no lease, since nobody renews it any more.
    const redis = new Redis(desc.redisUrl);
    try {
      const store = new RunStore(redis, `${KEYS}remediation:`);
      const run = (await store.get(runId)) as WorkflowRun;
      const [step1, step2] = run.plan.actions as [PlannedAction, PlannedAction];
      expect(step1.key).toContain(first.zombie);
      expect((await management().send('DELETE', `/api/queues/%2F/${encodeURIComponent(first.zombie)}`)).status).toBe(
        204,
      );
      expect(await store.transition(runId, ['pending'], 'running', Date.now())).toBe('ok');
      await store.setSteps(runId, [
        { key: step1.key, label: step1.label, status: 'done', detail: 'deleted', at: Date.now() },
      ]);

      const interrupted = await fake.waitForCall(
        'chat.update',
        (c) => c.params.ts === ts && String(c.params.text).startsWith('Interrupted'),
        30_000,
      );
      expect(JSON.stringify(interrupted.params.blocks)).toMatch(/Resume.*Abandon/);
      const press = (user: string, actionId: string) =>
        click(warren, fake, { user, actionId, value: runId, channel: CHANNEL, messageTs: ts });
      expect(text(await press(OPERATOR, 'warren:run:resume'))).toMatch(/someone else must resume it/);
      expect(text(await press(STRANGER, 'warren:run:abandon'))).toMatch(/Only approvers, or the requester/);
      expect(text(await press(APPROVER, 'warren:run:resume'))).toMatch(/You resumed .* 1 step\(s\) done before/);
      expect(text(await press(APPROVER, 'warren:run:resume'))).toMatch(/not interrupted; nothing to resume/);

      await finalUpdate(post, 'Done and verified');
      expect(await freshQueue(management(), '/', second.zombie)).toBeUndefined();
      expect(await freshQueue(management(), '/', second.sibling)).toBeDefined();
      // Only step 2 ran after the resume: one step-done in the audit trail, and no thread reply for step 1.
      const steps = (await warren.remediation?.audit(100))?.filter((e) => e.run === runId && e.event === 'step-done');
      expect(steps?.map((e) => e.detail)).toEqual([expect.stringContaining(step2.key)]);
      const replies = fake
        .callsTo('chat.postMessage')
        .filter((c) => c.params.thread_ts === ts)
        .map((c) => String(c.params.text));
      expect(replies.some((r) => r.includes('2/2'))).toBe(true);
      expect(replies.some((r) => r.includes('1/2'))).toBe(false);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses commands in a channel outside access.channels, and bad arguments with the usage line', async () => {
    const elsewhere = await slash(warren, fake, OPERATOR, 'fix delete-zombie-queues', 'C0RANDOM');
    expect(text(elsewhere)).toMatch(/only in <#C0OPS>/);
    const bad = await slash(warren, fake, OPERATOR, 'fix purge-queue', CHANNEL);
    expect(text(bad)).toMatch(/exactly one queue name/);
    expect(text(bad)).toContain('Usage: `fix purge-queue <queue>');
    const unknown = await slash(warren, fake, OPERATOR, 'fix drop-everything', CHANNEL);
    expect(text(unknown)).toMatch(/Unknown workflow "drop-everything"/);
  });
});
