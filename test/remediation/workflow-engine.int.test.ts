/**
 * The WorkflowEngine's own execute loop, driven as warren drives it (start, approve, resume) with its real run store
 * and audit stream in Redis and a recording chat. Fake workflows fail where a test wants them to: a guard that
 * aborts mid-run, a step that fails, a verification that fails, a rollback that fails; the real apply-policy is
 * made to fail its verification on the real cluster (a policy of higher priority takes its queue between plan and
 * approval) and its rollback removes what it set. Runs stored by an earlier warren (arguments as text) are refused
 * with the reason.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { ManagementApiError, RunRefusedError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { policySchema } from '../../src/management/schemas.js';
import { RunStore } from '../../src/remediation/run-store.js';
import {
  type AnyWorkflowDefinition,
  defineWorkflow,
  type PlannedAction,
  type Risk,
} from '../../src/remediation/workflow-definition.js';
import { WorkflowEngine } from '../../src/remediation/workflow-engine.js';
import type { RunRequest, WorkflowRun } from '../../src/remediation/workflow-run.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { recordingChat } from '../support/recording-chat.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys } from '../support/warren-harness.js';
import { finishedRun } from '../support/workflow-runs.js';

const REQUESTER = 'U0REQ';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0ENGINE';
const KEYS = harnessKeys('remediation-workflow-engine');

/** How a fake workflow behaves at each step: `fail` at step n, `abort` (guard) at step n, verify, rollback. */
interface Behaviour {
  risk?: Risk;
  steps?: number;
  failAt?: number;
  abortAt?: number;
  verifyOk?: boolean;
  rollback?: 'works' | 'throws' | 'none';
}

/** A workflow whose steps change nothing but a log, failing where told. */
function fakeWorkflow(name: string, behaviour: Behaviour) {
  const log: string[] = [];
  const rolledBack: string[][] = [];
  const definition = defineWorkflow<{ tag?: string }>({
    name,
    description: 'a fake for the engine test',
    risk: behaviour.risk ?? 'low',
    usage: '[tag]',
    words: z
      .object({ positionals: z.array(z.string()).max(1), flags: z.strictObject({}) })
      .transform(({ positionals }) => ({ tag: positionals[0] })),
    args: z.object({
      tag: z
        .string()
        .regex(/^[a-z]+$/, 'a tag is lower-case letters')
        .optional(),
    }),
    async plan() {
      const actions: PlannedAction[] = Array.from({ length: behaviour.steps ?? 3 }, (_, i) => ({
        key: `s${i + 1}`,
        label: `step ${i + 1}`,
        data: {},
      }));
      return { summary: `${actions.length} fake steps`, warnings: [], actions, guards: ['nothing'] };
    },
    async guard(_context, action) {
      return action.key === `s${behaviour.abortAt}` ? { reason: 'the world changed', abort: true } : undefined;
    },
    async execute(_context, action, args) {
      if (action.key === `s${behaviour.failAt}`) throw new Error(`${action.key} broke`);
      log.push(`${action.key}${args.tag ? `:${args.tag}` : ''}`);
      return 'done';
    },
    async verify() {
      return behaviour.verifyOk === false ? { ok: false, detail: 'the fake is not fixed' } : { ok: true, detail: 'ok' };
    },
    ...(behaviour.rollback === 'none'
      ? {}
      : {
          async rollback(_context: unknown, done: readonly PlannedAction[]) {
            if (behaviour.rollback === 'throws') throw new Error('the undo broke');
            rolledBack.push(done.map((a) => a.key));
            return `undid ${done.map((a) => a.key).join(', ')}`;
          },
        }),
  });
  return { definition, log, rolledBack };
}

const FAKES = {
  verifyFails: fakeWorkflow('fake-verify-fails', { verifyOk: false, rollback: 'works' }),
  stepFails: fakeWorkflow('fake-step-fails', { failAt: 2, rollback: 'works' }),
  rollbackThrows: fakeWorkflow('fake-rollback-throws', { verifyOk: false, rollback: 'throws' }),
  guardAborts: fakeWorkflow('fake-guard-aborts', { abortAt: 2, rollback: 'works' }),
  noRollback: fakeWorkflow('fake-no-rollback', { verifyOk: false, rollback: 'none' }),
  approved: fakeWorkflow('fake-approved', { risk: 'medium' }),
};

describe('WorkflowEngine', () => {
  const desc = inject('stack');
  const chat = recordingChat();
  let redis: Redis;
  let store: RunStore;
  let engine: WorkflowEngine;

  beforeAll(async () => {
    await flushHarnessRedis(desc, KEYS);
    redis = new Redis(desc.redisUrl);
    store = new RunStore(redis, `${KEYS}remediation:`);
    const clusters = new ClusterDirectory([
      {
        name: 'local',
        amqp: [],
        management: desc.nodes.map((n) => n.managementUrl),
        managementUser: desc.username,
        managementPassword: desc.password,
        remediation: { user: desc.username, password: desc.password },
        vhost: '/',
      },
    ]);
    const workflows: AnyWorkflowDefinition[] = [...Object.values(FAKES).map((f) => f.definition), applyPolicyWorkflow];
    engine = new WorkflowEngine({
      clusters,
      remediation: remediationSchema.parse({}),
      health: healthSchema.parse({}),
      redis,
      keyPrefix: `${KEYS}remediation:`,
      chat,
      pacer: new ChannelPacer(redis, 0),
      access: new AccessPolicy({ readers: [], operators: [], approvers: [APPROVER], channels: [] }),
      logger: createLogger('silent'),
      workflows,
    });
  });

  afterAll(async () => {
    await engine?.stop();
    redis?.disconnect();
  });

  async function start(target: string, positionals: string[] = []): Promise<string> {
    const reply = await engine.start({
      target,
      words: { positionals, flags: {} },
      cluster: 'local',
      dryRun: false,
      requester: REQUESTER,
      channel: CHANNEL,
    });
    const id = /run `(r-[0-9a-f]{8})`/.exec(reply.text ?? '')?.[1];
    if (!id) throw new Error(`no run id in: ${reply.text}`);
    return id;
  }

  const finished = (id: string, timeoutMs?: number): Promise<WorkflowRun> => finishedRun(store, id, timeoutMs);

  const events = async (id: string) =>
    (await engine.audit(100)).filter((e) => e.run === id).map((e) => `${e.event}: ${e.detail}`);
  /** The run's thread replies, once the messenger has delivered its last one. */
  async function replies(id: string, last: RegExp): Promise<string[]> {
    const run = await store.get(id);
    const ts = run?.message?.ts;
    return waitUntil(
      () => {
        const texts = chat.posts.filter((p) => ts && p.thread === ts).map((p) => p.text);
        return texts.some((t) => last.test(t)) ? texts : undefined;
      },
      `the last reply of ${id}`,
      10_000,
    );
  }

  it('rolls back the steps done when verification fails, and says so in the run, its thread and the audit', async () => {
    const id = await start('fake-verify-fails', ['blue']);
    const run = await finished(id);
    expect(run.status).toBe('rolled-back');
    expect(run.args).toEqual({ tag: 'blue' });
    expect(FAKES.verifyFails.log).toEqual(['s1:blue', 's2:blue', 's3:blue']);
    expect(FAKES.verifyFails.rolledBack).toEqual([['s1', 's2', 's3']]);
    expect(run.outcome).toBe('the fake is not fixed; rolled back: undid s1, s2, s3 (3 step(s) had run)');
    expect(await events(id)).toEqual(
      expect.arrayContaining([
        'requested: 3 fake steps [args: tag=blue]',
        'verification-failed: the fake is not fixed',
        'rolled-back: undid s1, s2, s3',
      ]),
    );
    const texts = await replies(id, /^:rewind: rolled-back: /);
    expect(texts).toContain(':rewind: rolling back the 3 step(s) done, because the fake is not fixed');
    await waitUntil(
      () => chat.updates.some((u) => u === `Failed and rolled back: fake-verify-fails on local (${id})`),
      'the rolled-back message',
      10_000,
    );
  });

  it('rolls back only the steps done before a step failed', async () => {
    const id = await start('fake-step-fails');
    const run = await finished(id);
    expect(run.status).toBe('rolled-back');
    expect(FAKES.stepFails.log).toEqual(['s1']);
    expect(FAKES.stepFails.rolledBack).toEqual([['s1']]);
    expect(run.steps.map((s) => `${s.key} ${s.status}`)).toEqual(['s1 done', 's2 failed']);
    expect(await events(id)).toEqual(expect.arrayContaining(['step-failed: s2: s2 broke', 'rolled-back: undid s1']));
  });

  it('never swallows a rollback that fails: the run fails saying so, audited and in the thread', async () => {
    const id = await start('fake-rollback-throws');
    const run = await finished(id);
    expect(run.status).toBe('failed');
    expect(run.outcome).toMatch(
      /^the fake is not fixed; the rollback failed too \(the undo broke\), so what the steps changed is still in place/,
    );
    expect(await events(id)).toContain('rollback-failed: the undo broke');
    expect(await events(id)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^rolled-back/)]));
    await replies(id, /^:x: failed: .*the rollback failed too/);
  });

  it('does not roll back a run a guard aborted mid-run: it stops, naming the steps that had run', async () => {
    const id = await start('fake-guard-aborts');
    const run = await finished(id);
    expect(run.status).toBe('aborted');
    expect(FAKES.guardAborts.log).toEqual(['s1']);
    expect(FAKES.guardAborts.rolledBack).toEqual([]);
    expect(run.outcome).toBe('guard failed before step 2: the world changed (1 step(s) had run)');
    expect(await events(id)).toEqual(expect.arrayContaining(['guard-failed: s2: the world changed']));
  });

  it('fails a run without a rollback as before', async () => {
    const id = await start('fake-no-rollback');
    const run = await finished(id);
    expect(run.status).toBe('failed');
    expect(run.outcome).toBe('the fake is not fixed (3 step(s) had run)');
  });

  it('refuses bad arguments at the start, with the usage', async () => {
    await expect(start('fake-verify-fails', ['BLUE'])).rejects.toThrow(
      /a tag is lower-case letters\nUsage: `fix fake-verify-fails \[tag\]`/,
    );
  });

  describe('runs stored by an earlier warren', () => {
    /** A run as the previous version stored it: its arguments as text, none typed. */
    async function legacyRun(status: 'pending' | 'interrupted', argsText: string): Promise<string> {
      const id = `r-${randomUUID().slice(0, 8)}`;
      const now = Date.now();
      const request = {
        id,
        workflow: 'fake-approved',
        cluster: 'local',
        argsText,
        risk: 'medium',
        requester: REQUESTER,
        channel: CHANNEL,
        createdAt: now,
        expiresAt: now + 600_000,
        approvalsNeeded: 1,
        plan: { summary: '3 fake steps', warnings: [], actions: [], guards: [] },
      } as RunRequest;
      await store.create(request, 'pending', 'old-warren');
      if (status === 'interrupted') {
        expect(await store.transition(id, ['pending'], 'interrupted', now)).toBe('ok');
      }
      return id;
    }

    it('refuses to approve one, closing it with the reason and the command that starts it again', async () => {
      const id = await legacyRun('pending', 'blue');
      const click = engine.approve(id, { userId: APPROVER, channelId: CHANNEL });
      await expect(click).rejects.toThrow(RunRefusedError);
      await expect(click).rejects.toThrow(/earlier version of warren.*`fix fake-approved blue`/);
      const run = await store.get(id);
      expect(run?.status).toBe('aborted');
      expect(run?.outcome).toMatch(/stored its arguments as text \(`blue`\).*Nothing was run/);
      expect(await events(id)).toEqual([expect.stringMatching(/^aborted: run `r-.*earlier version of warren/)]);
      expect(FAKES.approved.log).toEqual([]);
    });

    it('refuses to resume one that was interrupted', async () => {
      const id = await legacyRun('interrupted', '');
      await expect(engine.resume(id, { userId: APPROVER, channelId: CHANNEL })).rejects.toThrow(
        /earlier version of warren.*`fix fake-approved`/,
      );
      expect((await store.get(id))?.status).toBe('aborted');
    });

    it('refuses a run whose stored arguments no longer fit the workflow', async () => {
      const id = await legacyRun('pending', '');
      // As if stored by a version whose `tag` took anything.
      const key = `${KEYS}remediation:run:${id}`;
      const request = JSON.parse((await redis.hget(key, 'request')) as string);
      await redis.hset(key, 'request', JSON.stringify({ ...request, argsText: undefined, args: { tag: 'NOT OK' } }));
      await expect(engine.approve(id, { userId: APPROVER, channelId: CHANNEL })).rejects.toThrow(
        /stored arguments of run `r-[0-9a-f]{8}` \(tag="NOT OK"\) do not fit this version of fake-approved: a tag is lower-case letters/,
      );
      expect((await store.get(id))?.status).toBe('aborted');
    });

    it('still runs one stored with typed arguments', async () => {
      const id = await start('fake-approved', ['green']);
      await engine.approve(id, { userId: APPROVER, channelId: CHANNEL });
      expect((await finished(id)).status).toBe('succeeded');
      expect(FAKES.approved.log).toEqual(['s1:green', 's2:green', 's3:green']);
    });
  });

  describe('apply-policy on the real cluster', () => {
    const management = stackManagement(desc, 'local');
    const tag = randomUUID().slice(0, 8);
    const queue = `warren-rollback-${tag}`;
    const ours = `warren-rollback-${tag}`;
    const shadow = `warren-rollback-shadow-${tag}`;
    const policyPath = (name: string) => `/api/policies/%2F/${encodeURIComponent(name)}`;

    afterAll(async () => {
      await management.send('DELETE', policyPath(shadow)).catch(() => undefined);
      await management.send('DELETE', policyPath(ours)).catch(() => undefined);
      await management.send('DELETE', `/api/queues/%2F/${encodeURIComponent(queue)}`).catch(() => undefined);
    });

    it('removes the policy it set when its verification fails, and the run ends rolled back', async () => {
      await management.send('PUT', `/api/queues/%2F/${encodeURIComponent(queue)}`, {
        data: { durable: false, auto_delete: false },
      });
      const reply = await engine.start({
        target: 'apply-policy',
        words: { positionals: ['max-length'], flags: { pattern: `^${queue}$`, name: ours, value: '100' } },
        cluster: 'local',
        dryRun: false,
        requester: REQUESTER,
        channel: CHANNEL,
      });
      const id = /run `(r-[0-9a-f]{8})`/.exec(reply.text ?? '')?.[1] as string;
      // Between plan and approval someone sets a policy of higher priority on the same queue: ours will be set,
      // but the queue will never report it as its effective policy, so the verification fails.
      await management.send('PUT', policyPath(shadow), {
        data: { pattern: `^${queue}$`, definition: { 'max-length': 5 }, priority: 10, 'apply-to': 'queues' },
      });
      await engine.approve(id, { userId: APPROVER, channelId: CHANNEL });
      const run = await finished(id, 60_000);

      expect(run.status).toBe('rolled-back');
      expect(run.steps.map((s) => s.status)).toEqual(['done']);
      expect(run.outcome).toMatch(
        /; rolled back: policy `warren-rollback-[0-9a-f]+`: deleted \(1 step\(s\) had run\)$/,
      );
      const gone = await management.get(policyPath(ours), policySchema).then(
        () => false,
        (error: unknown) => error instanceof ManagementApiError && error.status === 404,
      );
      expect(gone).toBe(true);
      expect((await management.get(policyPath(shadow), policySchema)).priority).toBe(10);
      expect(await events(id)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^verification-failed: /),
          `rolled-back: policy \`${ours}\`: deleted`,
        ]),
      );
    });
  });
});
