/**
 * The execute loop on its own, with an in-memory run store and recorded audit and thread replies: a guard that
 * fails mid-run aborts it before the next step (the step before stays done, nothing is rolled back), a skipped step
 * lets the run go on, a failed verification rolls back what ran, a lease lost between steps stops the run before
 * the next one, and stored arguments that no longer fit the workflow run nothing.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/logger.js';
import type { NewAuditEntry } from '../../src/remediation/audit-log.js';
import { RunExecutor, type RunRecords } from '../../src/remediation/run-executor.js';
import type { TransitionOutcome } from '../../src/remediation/run-store.js';
import {
  type AnyWorkflowDefinition,
  defineWorkflow,
  type GuardFailure,
  type PlannedAction,
  type WorkflowContext,
} from '../../src/remediation/workflow-definition.js';
import type { RunStatus, StepRecord, WorkflowRun } from '../../src/remediation/workflow-run.js';

const LEASE = 'exec-1';

class MemoryRuns implements RunRecords {
  readonly runs = new Map<string, WorkflowRun>();
  /** Who holds each run's lease; a test takes it away to play the sweep of another replica. */
  readonly leases = new Map<string, string>();

  async get(id: string): Promise<WorkflowRun | undefined> {
    const run = this.runs.get(id);
    return run ? structuredClone(run) : undefined;
  }

  async transition(
    id: string,
    from: readonly RunStatus[],
    to: RunStatus,
    _now: number,
    fields: Record<string, string> = {},
  ): Promise<TransitionOutcome> {
    const run = this.runs.get(id);
    if (!run) return 'missing';
    if (!from.includes(run.status)) return `status:${run.status}` as TransitionOutcome;
    run.status = to;
    if (fields.outcome !== undefined) run.outcome = fields.outcome;
    return 'ok';
  }

  async holdLease(id: string, owner: string): Promise<boolean> {
    return this.leases.get(id) === owner;
  }

  async setSteps(id: string, steps: readonly StepRecord[]): Promise<void> {
    const run = this.runs.get(id);
    if (run) run.steps = [...steps];
  }
}

const action = (key: string): PlannedAction => ({ key, label: `step ${key}`, data: {}, vhosts: ['/'] });

/** A workflow whose steps, guards and verification each test scripts, recording what was executed and undone. */
function scripted(script: {
  guard?: (key: string) => GuardFailure | undefined;
  verify?: () => { ok: boolean; detail: string };
  onExecute?: (key: string) => void;
}) {
  const executed: string[] = [];
  const undone: string[][] = [];
  const workflow = defineWorkflow<{ n: number }>({
    name: 'scripted',
    description: 'test',
    risk: 'medium',
    usage: '',
    words: z.object({ positionals: z.array(z.string()), flags: z.object({}) }).transform(() => ({})),
    args: z.object({ n: z.number() }),
    plan: async () => ({ summary: '', warnings: [], actions: [], guards: [] }),
    guard: async (_c, a) => script.guard?.(a.key),
    execute: async (_c, a) => {
      executed.push(a.key);
      script.onExecute?.(a.key);
      return `did ${a.key}`;
    },
    verify: async () => script.verify?.() ?? { ok: true, detail: 'all good' },
    rollback: async (_c, done) => {
      undone.push(done.map((a) => a.key));
      return `undid ${done.length}`;
    },
  });
  return { workflow, executed, undone };
}

function setUp(workflow: AnyWorkflowDefinition, args: Record<string, unknown> = { n: 1 }) {
  const store = new MemoryRuns();
  const audit: NewAuditEntry[] = [];
  const replies: string[] = [];
  const run: WorkflowRun = {
    id: 'r-0000beef',
    workflow: workflow.name,
    cluster: 'default',
    args,
    risk: 'medium',
    requester: 'U1',
    channel: 'C1',
    createdAt: 0,
    approvalsNeeded: 1,
    plan: { summary: 's', warnings: [], actions: ['a', 'b', 'c'].map(action), guards: [] },
    status: 'approved',
    approvals: [],
    steps: [],
    updatedAt: 0,
  };
  store.runs.set(run.id, run);
  store.leases.set(run.id, LEASE);
  const executor = new RunExecutor({
    store,
    workflow: (name) => (name === workflow.name ? workflow : undefined),
    context: () => ({ cluster: 'default', vhost: '/' }) as WorkflowContext,
    audit: async (entry) => {
      audit.push(entry);
    },
    refresh: async () => true,
    reply: async (_run, text) => {
      replies.push(text);
    },
    logger: createLogger('silent'),
    now: () => 1,
  });
  const events = () => audit.map((e) => e.event);
  return { store, executor, run, audit, events, replies };
}

describe('RunExecutor', () => {
  it('runs every step behind its guard, verifies, and ends succeeded', async () => {
    const { workflow, executed } = scripted({});
    const { store, executor, run, events, audit } = setUp(workflow);
    await executor.execute(run.id, LEASE);
    expect(executed).toEqual(['a', 'b', 'c']);
    expect(store.runs.get(run.id)?.status).toBe('succeeded');
    expect(events()).toEqual(['started', 'step-done', 'step-done', 'step-done', 'verified']);
    expect(audit.every((e) => e.run === run.id && e.vhosts.includes('/'))).toBe(true);
  });

  it('aborts before the next step when a guard fails mid-run, keeping the step done and undoing nothing', async () => {
    const { workflow, executed, undone } = scripted({
      guard: (key) => (key === 'b' ? { reason: 'a consumer attached', abort: true } : undefined),
    });
    const { store, executor, run, events, replies } = setUp(workflow);
    await executor.execute(run.id, LEASE);
    expect(executed).toEqual(['a']);
    expect(undone).toEqual([]);
    const after = store.runs.get(run.id);
    expect(after?.status).toBe('aborted');
    expect(after?.outcome).toBe('guard failed before step b: a consumer attached (1 step(s) had run)');
    expect(after?.steps.map((s) => [s.key, s.status])).toEqual([
      ['a', 'done'],
      ['b', 'skipped'],
    ]);
    expect(events()).toEqual(['started', 'step-done', 'guard-failed', 'aborted']);
    expect(replies.at(-1)).toMatch(/^:x: aborted: guard failed before step b/);
  });

  it('skips a step whose guard fails without abort and goes on with the rest', async () => {
    const { workflow, executed } = scripted({
      guard: (key) => (key === 'b' ? { reason: 'already gone', abort: false } : undefined),
    });
    const { store, executor, run } = setUp(workflow);
    await executor.execute(run.id, LEASE);
    expect(executed).toEqual(['a', 'c']);
    expect(store.runs.get(run.id)?.status).toBe('succeeded');
  });

  it('rolls back what ran when the verification fails, and says why', async () => {
    const { workflow, undone } = scripted({ verify: () => ({ ok: false, detail: 'still 3 queues' }) });
    const { store, executor, run, events } = setUp(workflow);
    await executor.execute(run.id, LEASE);
    expect(undone).toEqual([['a', 'b', 'c']]);
    expect(store.runs.get(run.id)?.status).toBe('rolled-back');
    expect(store.runs.get(run.id)?.outcome).toBe('still 3 queues; rolled back: undid 3 (3 step(s) had run)');
    expect(events()).toEqual(['started', 'step-done', 'step-done', 'step-done', 'verification-failed', 'rolled-back']);
  });

  it('stops before the next step once its lease is lost, and leaves the run to whoever holds it now', async () => {
    let store: MemoryRuns | undefined;
    const { workflow, executed } = scripted({
      // While step a runs, another replica's sweep marks the run interrupted and drops the lease.
      onExecute: (key) => {
        if (key !== 'a' || !store) return;
        store.leases.delete('r-0000beef');
        (store.runs.get('r-0000beef') as WorkflowRun).status = 'interrupted';
      },
    });
    const set = setUp(workflow);
    store = set.store;
    await set.executor.execute(set.run.id, LEASE);
    expect(executed).toEqual(['a']);
    expect(store.runs.get(set.run.id)?.status).toBe('interrupted');
    expect(set.replies.at(-1)).toMatch(/lost its lease \(it is now interrupted\) and stopped before step b/);
    expect(set.events()).toEqual(['started', 'step-done']);
  });

  it('does not execute a run that another execution already finished', async () => {
    const { workflow, executed } = scripted({});
    const { store, executor, run } = setUp(workflow);
    (store.runs.get(run.id) as WorkflowRun).status = 'succeeded';
    await executor.execute(run.id, LEASE);
    expect(executed).toEqual([]);
  });

  it('runs nothing when the stored arguments no longer fit the workflow', async () => {
    const { workflow, executed } = scripted({});
    const { store, executor, run, events } = setUp(workflow, { n: 'one' });
    await executor.execute(run.id, LEASE);
    expect(executed).toEqual([]);
    expect(store.runs.get(run.id)?.status).toBe('aborted');
    expect(store.runs.get(run.id)?.outcome).toMatch(/do not fit this version of scripted/);
    expect(events()).toEqual(['aborted']);
  });
});
