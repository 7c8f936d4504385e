/**
 * Executes an approved run: each planned step behind its guard re-checked on fresh state, then the workflow's
 * verification, then its end (succeeded, failed, aborted or rolled back), every one audited and told in the run's
 * thread. A run executes only where its lease is held, one execution per lease (not per replica, so that an
 * execution which lost its run stops even when the run was resumed in the same process). It renews the lease while
 * it works; once the lease is lost the run is someone else's (marked interrupted, or resumed elsewhere), and carrying
 * on would change the broker under a run that says it stopped: a step under way finishes, nothing after it starts.
 */
import { randomBytes } from 'node:crypto';
import { formatCount } from '../chat/human-format.js';
import type { Logger } from '../logger.js';
import { scrub } from '../secrets.js';
import { type NewAuditEntry, runAudit } from './audit-log.js';
import { LEASE_MS, type RunStore } from './run-store.js';
import { storedArgs } from './stored-args.js';
import type { AnyWorkflowDefinition, PlannedAction, WorkflowContext } from './workflow-definition.js';
import type { StepRecord, WorkflowRun } from './workflow-run.js';

/** The part of the run store an execution reads and writes. */
export type RunRecords = Pick<RunStore, 'get' | 'transition' | 'holdLease' | 'setSteps'>;

export type RunEnd = 'succeeded' | 'failed' | 'aborted' | 'rolled-back';

export interface RunExecutorOptions {
  store: RunRecords;
  workflow: (name: string) => AnyWorkflowDefinition | undefined;
  /** The context a run's steps act in: its cluster's clients, config and requester. */
  context: (run: WorkflowRun) => WorkflowContext;
  audit: (entry: NewAuditEntry) => Promise<void>;
  /** Shows the run's stored state in its message; Slack failures never reach the run. */
  refresh: (id: string) => Promise<unknown>;
  /** A reply in the run's thread, after every earlier one. */
  reply: (run: WorkflowRun, text: string) => Promise<void>;
  logger: Logger;
  now: () => number;
  /** Names this process in lease holders (a random one by default). */
  owner?: string;
}

export class RunExecutor {
  private readonly owner: string;
  private readonly executing = new Set<Promise<void>>();

  constructor(private readonly options: RunExecutorOptions) {
    this.owner = options.owner ?? `warren-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  /** A holder for one execution's lease, stored with the run when it is created, approved or resumed. */
  newLease(): string {
    return `${this.owner}-${randomBytes(3).toString('hex')}`;
  }

  /** Executes the run without making the caller (a click's answer) wait for it. */
  background(id: string, lease: string): void {
    const work = this.execute(id, lease)
      .catch((error: unknown) => this.options.logger.error({ err: error, run: id }, 'run failed unexpectedly'))
      .finally(() => this.executing.delete(work));
    this.executing.add(work);
  }

  /** Waits for the runs executing here to finish. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.executing]);
  }

  async execute(id: string, holder: string): Promise<void> {
    const { store, audit, now } = this.options;
    const start = await store.transition(id, ['approved', 'running'], 'running', now());
    if (start !== 'ok') return;
    const run = (await store.get(id)) as WorkflowRun;
    const definition = this.options.workflow(run.workflow);
    const base = runAudit(run, 'warren');
    let held = true;
    const holdLease = async () => {
      held = held && (await store.holdLease(id, holder));
      return held;
    };
    const renewal = setInterval(() => {
      holdLease().catch(() => undefined);
    }, LEASE_MS / 3);
    try {
      if (!definition) {
        await this.finish(run, 'failed', `workflow ${run.workflow} does not exist in this warren`);
        return;
      }
      const stored = storedArgs(definition, run);
      if (!stored.ok) {
        await this.finish(run, 'aborted', stored.reason);
        return;
      }
      const { args } = stored;
      const context = this.options.context(run);
      await audit({ ...base, event: 'started', detail: `${run.plan.actions.length} step(s)` });
      await this.options.refresh(id);
      // A resumed run keeps the record of what ran before the interruption, and never repeats a step done there.
      const steps: StepRecord[] = [...run.steps];
      const doneBefore = new Set(run.steps.filter((s) => s.status === 'done').map((s) => s.key));
      const done: PlannedAction[] = [];
      const { rollback } = definition;
      const undo = rollback ? () => rollback.call(definition, context, done, args) : undefined;
      const record = async (step: StepRecord, icon: string, position: number) => {
        steps.push(step);
        await store.setSteps(id, steps);
        await this.options.reply(run, `${icon} ${position}/${run.plan.actions.length} ${step.label}: ${step.detail}`);
      };
      for (const [index, action] of run.plan.actions.entries()) {
        if (doneBefore.has(action.key)) {
          done.push(action);
          continue;
        }
        if (!(await holdLease())) {
          await this.leaseLost(run, action.label);
          return;
        }
        let failure: Awaited<ReturnType<typeof definition.guard>>;
        try {
          failure = await definition.guard(context, action, args);
        } catch (error) {
          failure = { reason: `could not re-check: ${message(error)}`, abort: true };
        }
        if (failure) {
          await audit({ ...base, event: 'guard-failed', detail: `${action.key}: ${failure.reason}` });
          await record(
            { key: action.key, label: action.label, status: 'skipped', detail: failure.reason, at: now() },
            ':fast_forward:',
            index + 1,
          );
          if (failure.abort) {
            await this.finish(run, 'aborted', `guard failed before ${action.label}: ${failure.reason}`, done);
            return;
          }
          continue;
        }
        try {
          const result = await definition.execute(context, action, args);
          done.push(action);
          await audit({ ...base, event: 'step-done', detail: `${action.key}: ${result}` });
          await record(
            { key: action.key, label: action.label, status: 'done', detail: result, at: now() },
            ':white_check_mark:',
            index + 1,
          );
        } catch (error) {
          await audit({ ...base, event: 'step-failed', detail: `${action.key}: ${message(error)}` });
          await record(
            { key: action.key, label: action.label, status: 'failed', detail: message(error), at: now() },
            ':x:',
            index + 1,
          );
          await this.fail(run, `${action.label} failed: ${message(error)}`, done, holdLease, undo);
          return;
        }
      }
      if (done.length === 0) {
        await this.finish(
          run,
          'aborted',
          'nothing left to do: every step was skipped because its guard no longer held',
        );
        return;
      }
      if (!(await holdLease())) {
        await this.leaseLost(run, 'verification');
        return;
      }
      let verification: { ok: boolean; detail: string };
      try {
        verification = await definition.verify(context, done, args);
      } catch (error) {
        verification = { ok: false, detail: `could not verify: ${message(error)}` };
      }
      await audit({
        ...base,
        event: verification.ok ? 'verified' : 'verification-failed',
        detail: verification.detail,
      });
      if (verification.ok) await this.finish(run, 'succeeded', verification.detail, done);
      else await this.fail(run, verification.detail, done, holdLease, undo);
    } catch (error) {
      await this.finish(run, 'failed', message(error));
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * A run that failed after some of its steps ran is undone by its workflow's rollback, where it has one, and ends
   * `rolled-back`. A rollback that fails leaves the run `failed` saying so, audited and in the thread, since the
   * broker keeps what the steps changed. A guard that aborts the run is not rolled back: the world changed under
   * the run, and what the steps did was done on the state the guards vouched for.
   */
  private async fail(
    run: WorkflowRun,
    failure: string,
    done: readonly PlannedAction[],
    holdLease: () => Promise<boolean>,
    undo: (() => Promise<string>) | undefined,
  ): Promise<void> {
    if (!undo || done.length === 0) {
      await this.finish(run, 'failed', failure, done);
      return;
    }
    // Rolling back changes the broker like a step: only while the run is still this execution's own.
    if (!(await holdLease())) {
      await this.leaseLost(run, 'rolling back');
      return;
    }
    const base = runAudit(run, 'warren');
    await this.options.reply(
      run,
      `:rewind: rolling back the ${formatCount(done.length)} step(s) done, because ${failure}`,
    );
    try {
      const result = scrub(await undo());
      await this.options.audit({ ...base, event: 'rolled-back', detail: result });
      await this.finish(run, 'rolled-back', `${failure}; rolled back: ${result}`, done);
    } catch (error) {
      this.options.logger.error({ err: error, run: run.id }, 'the rollback of a failed run failed');
      await this.options.audit({ ...base, event: 'rollback-failed', detail: message(error) });
      await this.finish(
        run,
        'failed',
        `${failure}; the rollback failed too (${message(error)}), so what the steps changed is still in place`,
        done,
      );
    }
  }

  /** This execution stops a run it no longer holds; what it had done is in the steps it recorded. */
  private async leaseLost(run: WorkflowRun, next: string): Promise<void> {
    const current = await this.options.store.get(run.id);
    this.options.logger.warn(
      { run: run.id, status: current?.status },
      'lost the lease of a run it was executing; stopping it',
    );
    await this.options.refresh(run.id);
    await this.options.reply(
      run,
      `:warning: the replica executing this run lost its lease (it is now ${current?.status ?? 'gone'}) and stopped ` +
        `before ${next}; the steps above are all it did`,
    );
  }

  private async finish(
    run: WorkflowRun,
    status: RunEnd,
    outcome: string,
    done: readonly PlannedAction[] = [],
  ): Promise<void> {
    const detail = `${outcome}${done.length > 0 && status !== 'succeeded' ? ` (${formatCount(done.length)} step(s) had run)` : ''}`;
    await this.options.store.transition(run.id, ['running'], status, this.options.now(), { outcome: detail });
    if (status === 'aborted') await this.options.audit({ ...runAudit(run, 'warren'), event: 'aborted', detail });
    await this.options.refresh(run.id);
    const icon = status === 'succeeded' ? ':white_check_mark:' : status === 'rolled-back' ? ':rewind:' : ':x:';
    await this.options.reply(run, `${icon} ${status}: ${detail}`);
  }
}

function message(error: unknown): string {
  return scrub(error instanceof Error ? error.message : String(error));
}
