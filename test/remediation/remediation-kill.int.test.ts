/**
 * A warren process killed with SIGKILL while it executes a run, exactly between two steps: step 1 done on the
 * broker and recorded in Redis, step 2 not started. The kill lands there deterministically because the fake Slack
 * holds the answer to the run's "1/2" thread reply, which the engine posts after recording step 1 and before
 * guarding step 2. Then either a new warren process on the same Redis, or the other of two replicas, must mark the
 * run interrupted with what was done, repeat nothing on its own, and take Resume (another approver; the done step
 * is not run again) or Abandon. And an executor still alive whose lease lapsed (as Redis away for longer than the
 * lease leaves it) must stop before the next step once its run is marked interrupted.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelModel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachLocalStack } from '../../src/devstack/index.js';
import { AuditLog } from '../../src/remediation/audit-log.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import { SENT_AGAIN } from '../../src/remediation/run-messenger.js';
import { RunStore } from '../../src/remediation/run-store.js';
import type { PlannedAction } from '../../src/remediation/workflow-definition.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack } from '../support/fake-slack.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import {
  click,
  flushHarnessRedis,
  harnessKeys,
  remediationTestYaml,
  type SlackTarget,
  slash,
  spawnHarnessWarren,
  startHarnessWarren,
  type WarrenProcess,
} from '../support/warren-harness.js';
import { deleteZombies, makeZombie, type Zombie } from '../support/zombie-queue.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0OPS';
const KEYS = harnessKeys('remediation-remediation-kill');
/** The executor's lease (run-store.ts LEASE_MS, 30 s) must lapse, then a 2 s sweep notices: room for a slow machine. */
const INTERRUPTED_WITHIN_MS = 60_000;

const YAML = remediationTestYaml(
  { operators: [OPERATOR, APPROVER], approvers: [OPERATOR, APPROVER], channel: CHANNEL },
  { zombieIdleAfter: '1h' },
);

const text = (reply: Record<string, unknown>) => String(reply.text ?? '');

describe('a warren process killed with SIGKILL between two steps of a run', () => {
  const desc = inject('stack');
  const dir = mkdtempSync(join(tmpdir(), 'warren-kill-'));
  const management = () => stackManagement(desc);
  const servers: ChildProcess[] = [];
  const processes: WarrenProcess[] = [];
  let fake: FakeSlack;
  let amqp: ChannelModel;
  let redis: Redis;
  let store: RunStore;
  let audit: AuditLog;
  let survivor: Warren | undefined;

  async function startProcess(): Promise<WarrenProcess> {
    const started = await spawnHarnessWarren({
      stack: desc,
      fake,
      configPath: join(dir, 'warren.yaml'),
      keyPrefix: KEYS,
    });
    processes.push(started);
    return started;
  }

  const made: Zombie[] = [];
  const zombie = async (topic: string): Promise<Zombie> => {
    const z = await makeZombie({
      amqpUrl: desc.nodes[0]?.amqpUrl as string,
      amqp,
      management: management(),
      topic,
      servers,
    });
    made.push(z);
    return z;
  };

  /** Requests a run over both zombies through `target`, and returns it with its request message. */
  async function request(target: SlackTarget, prefix: string): Promise<{ runId: string; ts: string }> {
    const runId = await waitUntil(
      async () => {
        // The plan reads consumers from /api/consumers, which trails the broker by a few seconds.
        const reply = text(await slash(target, fake, OPERATOR, `fix delete-zombie-queues ${prefix}-*`, CHANNEL));
        return reply.includes('2 queue(s)') ? /run `(r-[0-9a-f]{8})`/.exec(reply)?.[1] : undefined;
      },
      'a plan for both zombies',
      30_000,
    );
    const post = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === CHANNEL && !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(runId),
      20_000,
    );
    return { runId, ts: (post.reply as { ts: string }).ts };
  }

  const press = (target: SlackTarget, user: string, action: string, runId: string, ts: string) =>
    click(target, fake, { user, actionId: `warren:run:${action}`, value: runId, channel: CHANNEL, messageTs: ts });

  /**
   * Two zombies, and a run over both requested and approved on `executor` (so it executes there), held once it
   * posts step 1's result. Checks the run is exactly between the steps: step 1 recorded done and its queue gone,
   * step 2 not begun and its queue untouched.
   */
  async function runBetweenSteps(executor: SlackTarget) {
    const prefix = `warren-kill-${randomUUID().slice(0, 6)}`;
    const zombies = [await zombie(`${prefix}-a`), await zombie(`${prefix}-b`)];
    const { runId, ts } = await request(executor, prefix);
    const held = fake.hold(
      'chat.postMessage',
      (c) => c.params.thread_ts === ts && String(c.params.text).includes('1/2'),
    );
    expect(text(await press(executor, APPROVER, 'approve', runId, ts))).toMatch(/You approved/);
    await held.reached;
    const left = (await store.get(runId)) as WorkflowRun;
    const [step1, step2] = left.plan.actions as [PlannedAction, PlannedAction];
    const queueOf = (action: PlannedAction) => zombies.find((z) => action.key.includes(z.zombie)) as Zombie;
    expect(left.status).toBe('running');
    expect(left.steps.map((s) => [s.key, s.status])).toEqual([[step1.key, 'done']]);
    expect(await freshQueue(management(), '/', queueOf(step1).zombie)).toBeUndefined();
    expect((await freshQueue(management(), '/', queueOf(step2).zombie))?.messages).toBe(20);
    return { runId, ts, step1, step2, zombies, untouched: queueOf(step2).zombie, held };
  }

  /** The same, then `executor` killed with SIGKILL while it is held there. */
  async function runKilledBetweenSteps(executor: WarrenProcess) {
    const run = await runBetweenSteps(executor);
    executor.cli.child.kill('SIGKILL');
    expect(await executor.cli.exit()).toBeNull();
    const killedAt = Date.now();
    // What the dead process had sent stays on record: the only unmarked "1/2" reply the run may ever have.
    run.held.release();
    return { ...run, killedAt };
  }

  /**
   * Waits for the run to be marked interrupted (message and thread), and checks nothing ran on its own meanwhile.
   * Returns the seconds from the kill to the message's update.
   */
  async function interrupted(run: Awaited<ReturnType<typeof runKilledBetweenSteps>>): Promise<number> {
    const update = await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === run.ts && String(c.params.text).startsWith('Interrupted'),
      INTERRUPTED_WITHIN_MS,
    );
    expect(JSON.stringify(update.params.blocks)).toMatch(/Resume.*Abandon/);
    expect(JSON.stringify(update.params.blocks)).toContain(`done before it stopped: ${run.step1.label}`);
    await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.thread_ts === run.ts && String(c.params.text).includes('interrupted: warren stopped'),
    );
    expect((await store.get(run.runId))?.status).toBe('interrupted');
    expect((await freshQueue(management(), '/', run.untouched))?.messages).toBe(20);
    expect(await stepsDone(run.runId)).toEqual([expect.stringContaining(run.step1.key)]);
    return (update.at - run.killedAt) / 1000;
  }

  /** The run's thread replies, as posted. */
  const replies = (ts: string): string[] =>
    fake
      .callsTo('chat.postMessage')
      .filter((c) => c.params.thread_ts === ts)
      .map((c) => String(c.params.text));

  const stepsDone = async (runId: string) =>
    (await audit.latest(200)).filter((e) => e.run === runId && e.event === 'step-done').map((e) => e.detail);

  beforeAll(async () => {
    await restoreCluster(desc, attachLocalStack(desc));
    await flushHarnessRedis(desc, KEYS);
    writeFileSync(join(dir, 'warren.yaml'), YAML);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    redis = new Redis(desc.redisUrl);
    store = new RunStore(redis, `${KEYS}remediation:`);
    audit = new AuditLog(redis, 86_400_000, `${KEYS}remediation:`);
  });

  afterAll(async () => {
    for (const { cli } of processes) cli.child.kill('SIGKILL');
    for (const child of servers) child.kill('SIGKILL');
    await survivor?.stop();
    // Step 2's queues are left on purpose by the abandoned and stopped runs.
    await deleteZombies(amqp, made);
    redis?.disconnect();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is marked interrupted by the restarted process, repeats nothing, and resumes on a second person', async () => {
    const run = await runKilledBetweenSteps(await startProcess());
    const { runId, ts } = run;

    const second = await startProcess();
    console.log(`[figures] restart: interrupted ${(await interrupted(run)).toFixed(1)} s after the SIGKILL`);

    expect(text(await press(second, OPERATOR, 'resume', runId, ts))).toMatch(/someone else must resume it/);
    expect(text(await press(second, APPROVER, 'resume', runId, ts))).toMatch(/You resumed .* 1 step\(s\) done before/);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('Done and verified'),
      60_000,
    );
    expect(await freshQueue(management(), '/', run.untouched)).toBeUndefined();
    for (const z of run.zombies) expect(await freshQueue(management(), '/', z.sibling)).toBeDefined();
    // Each step ran once across both processes: step 1 in the killed one, step 2 after the resume.
    expect(await stepsDone(runId)).toEqual([
      expect.stringContaining(run.step2.key),
      expect.stringContaining(run.step1.key),
    ]);
    // The killed process died inside its "1/2" post, so the restarted one cannot know whether Slack got it: it posts
    // it again rather than lose it, marked as possibly repeated. Nothing else is repeated.
    expect(replies(ts).filter((r) => r.includes('1/2') && !r.includes(SENT_AGAIN))).toHaveLength(1);
    expect(replies(ts).filter((r) => r.includes('1/2') && r.includes(SENT_AGAIN))).toHaveLength(1);
    expect(replies(ts).filter((r) => r.includes('2/2'))).toHaveLength(1);
    expect(text(await press(second, OPERATOR, 'abandon', runId, ts))).toMatch(/succeeded, not interrupted/);
    second.cli.child.kill('SIGKILL');
  }, 240_000);

  it('is marked interrupted by the other replica, which takes the Abandon click', async () => {
    survivor ??= await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
    const run = await runKilledBetweenSteps(await startProcess());
    const { runId, ts } = run;
    console.log(`[figures] replica: interrupted ${(await interrupted(run)).toFixed(1)} s after the SIGKILL`);

    // The requester may abandon their own run; the survivor takes the click.
    expect(text(await press(survivor, OPERATOR, 'abandon', runId, ts))).toMatch(/You abandoned/);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('Abandoned'),
      20_000,
    );
    expect(text(await press(survivor, APPROVER, 'resume', runId, ts))).toMatch(/abandoned, not interrupted/);
    const closed = await store.get(runId);
    expect(closed?.status).toBe('abandoned');
    expect(closed?.closedBy).toBe(OPERATOR);
    expect((await audit.latest(200)).find((e) => e.run === runId && e.event === 'abandoned')?.user).toBe(OPERATOR);
    // Abandoned means nothing more ran: step 2's queue is still there, with its messages.
    expect((await freshQueue(management(), '/', run.untouched))?.messages).toBe(20);
    expect(await stepsDone(runId)).toEqual([expect.stringContaining(run.step1.key)]);
  }, 240_000);

  it('stops a live executor whose lease lapsed once its run is marked interrupted, before the next step', async () => {
    survivor ??= await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
    const run = await runBetweenSteps(survivor);
    // What Redis away for longer than the lease leaves: the executor alive mid-run, and its lease expired in the AOF.
    await redis.del(`${KEYS}remediation:lease:${run.runId}`);
    // Once the run is interrupted in Redis the executor may go on: its "1/2" reply is answered, and the run's
    // messages (that reply first, then the interruption) reach Slack in order.
    await waitUntil(async () => (await store.get(run.runId))?.status === 'interrupted', 'the run interrupted', 10_000);
    run.held.release();
    await interrupted({ ...run, killedAt: Date.now() });
    await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.thread_ts === run.ts && String(c.params.text).includes('lost its lease'),
      20_000,
    );
    expect((await store.get(run.runId))?.status).toBe('interrupted');
    expect((await freshQueue(management(), '/', run.untouched))?.messages).toBe(20);
    expect(await stepsDone(run.runId)).toEqual([expect.stringContaining(run.step1.key)]);

    // Resumed on the same replica, it runs step 2 only, under a lease it holds again.
    expect(text(await press(survivor, APPROVER, 'resume', run.runId, run.ts))).toMatch(/You resumed/);
    // A second click is refused, and takes nothing from the execution the first one started.
    expect(text(await press(survivor, OPERATOR, 'resume', run.runId, run.ts))).toMatch(/someone else must resume/);
    expect(text(await press(survivor, APPROVER, 'resume', run.runId, run.ts))).toMatch(/not interrupted/);
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === run.ts && String(c.params.text).startsWith('Done and verified'),
      60_000,
    );
    expect(await freshQueue(management(), '/', run.untouched)).toBeUndefined();
  }, 240_000);
});
