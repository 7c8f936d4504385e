/**
 * Runs remediation workflows: plan, request approval, take clicks, sweep, audit. Every decision that matters is made
 * against Redis (run-store.ts), never against memory, so pending approvals survive a restart and any replica can take
 * any click. A run executes (run-executor.ts) only on the replica whose click (or command) won the transition to
 * running, under a lease; a run whose lease lapses is marked interrupted by whichever replica's sweep notices, with
 * what was done, rather than resumed blindly.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import { type ChatPort, type ChatReply, ephemeral } from '../chat/chat-message.js';
import type { AccessPolicy } from '../chatops/access-policy.js';
import type { ClusterDirectory, ClusterHandle } from '../cluster/cluster-directory.js';
import type { HealthConfig } from '../config/health-schema.js';
import type { RemediationConfig } from '../config/remediation-schema.js';
import { RunRefusedError, WorkflowRefusedError } from '../errors.js';
import type { AlertState } from '../health/alert-state.js';
import { formatTime } from '../health/health-format.js';
import type { Logger } from '../logger.js';
import { scrub } from '../secrets.js';
import { type AuditEntry, AuditLog, type NewAuditEntry, runAudit } from './audit-log.js';
import { nodeControlFrom } from './node-control.js';
import type { Clicker, RemediationControl, StartRequest } from './remediation-control.js';
import { RunExecutor } from './run-executor.js';
import { dryRunText } from './run-message.js';
import { RunMessenger } from './run-messenger.js';
import { RunStore } from './run-store.js';
import { storedArgs } from './stored-args.js';
import {
  type AnyWorkflowDefinition,
  approvalsNeeded,
  describeArgs,
  parseWorkflowArgs,
  planVhosts,
  type WorkflowContext,
  type WorkflowWords,
} from './workflow-definition.js';
import type { RunRequest, WorkflowRun } from './workflow-run.js';

const RUN_ID = /^r-[0-9a-f]{8}$/;
const SWEEP_MS = 2_000;

export interface WorkflowEngineOptions {
  /** Where runs, their messages and the audit log live in Redis; default `warren:remediation:`. */
  keyPrefix?: string;
  clusters: ClusterDirectory;
  remediation: RemediationConfig;
  health: HealthConfig;
  redis: Redis;
  chat: ChatPort;
  pacer: ChannelPacer;
  /** slack.apiTimeout, which bounds how long one Slack call of a run's messages can take. */
  slackCallMs?: number;
  access: AccessPolicy;
  logger: Logger;
  workflows: readonly AnyWorkflowDefinition[];
  /** The alert with this id, for `fix <alert id>` and the Fix… button. */
  alert?: (id: string) => Promise<AlertState | undefined>;
  /** The workflow a check's alerts are fixed by. */
  workflowOfCheck?: (check: string) => string | undefined;
  now?: () => number;
}

export class WorkflowEngine implements RemediationControl {
  readonly workflows: readonly AnyWorkflowDefinition[];
  private readonly store: RunStore;
  private readonly auditLog: AuditLog;
  private readonly messenger: RunMessenger;
  private readonly executor: RunExecutor;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly options: WorkflowEngineOptions) {
    this.workflows = options.workflows;
    this.now = options.now ?? Date.now;
    const prefix = options.keyPrefix ?? 'warren:remediation:';
    this.store = new RunStore(options.redis, prefix);
    this.auditLog = new AuditLog(options.redis, options.remediation.auditRetention, prefix);
    this.messenger = new RunMessenger({
      prefix: `${prefix}outbox`,
      redis: options.redis,
      store: this.store,
      chat: options.chat,
      pacer: options.pacer,
      logger: options.logger,
      now: this.now,
      ...(options.slackCallMs !== undefined ? { slackCallMs: options.slackCallMs } : {}),
    });
    this.executor = new RunExecutor({
      store: this.store,
      workflow: (name) => this.workflow(name),
      context: (run) => this.context(this.options.clusters.get(run.cluster), run.id, run.requester),
      audit: (entry) => this.audit_(entry),
      refresh: (id) => this.refresh(id),
      reply: (run, text) => this.reply(run, text),
      logger: options.logger,
      now: this.now,
    });
  }

  /** Starts the sweep that expires unanswered requests and marks runs of dead replicas interrupted. */
  startSweeping(): void {
    this.timer = setInterval(() => {
      // A sweep retrying Slack can outlast the interval; the next one waits its turn rather than overlapping.
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'remediation sweep failed'))
        .finally(() => {
          this.sweeping = undefined;
        });
    }, SWEEP_MS);
    this.timer.unref();
  }

  /** Stops sweeping and waits for the sweep under way and for runs executing here to finish. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([this.executor.stop(), this.sweeping]);
  }

  workflow(name: string): AnyWorkflowDefinition | undefined {
    return this.workflows.find((w) => w.name === name);
  }

  audit(count: number): Promise<AuditEntry[]> {
    return this.auditLog.latest(count);
  }

  auditSince(sinceMs: number): AsyncGenerator<AuditEntry> {
    return this.auditLog.since(sinceMs);
  }

  runs(count: number): Promise<WorkflowRun[]> {
    return this.store.recent(count);
  }

  // ── starting ───────────────────────────────────────────────────────────────────────────────────────────────

  async start(request: StartRequest): Promise<ChatReply> {
    const { definition, args, cluster, alertId } = await this.resolve(request);
    // Before planning: a plan already shows what it would touch, in whichever vhost.
    const outOfScope = this.scopeRefusal(request.channel, definition, args, cluster.config.vhost);
    if (outOfScope) throw new WorkflowRefusedError(`Not allowed: ${outOfScope}.`);
    // A dry run only reads; a real run may write, and writes need the cluster's own remediation user.
    if (!request.dryRun && !cluster.config.remediation) {
      throw new WorkflowRefusedError(
        `Remediation is off for cluster ${cluster.config.name}: it has no remediation credentials. warren reads with ` +
          'a monitoring user and changes the broker only with a separate one: set clusters[].remediationUser and ' +
          'remediationPassword (or RABBITMQ_REMEDIATION_USER and RABBITMQ_REMEDIATION_PASSWORD; see docs/security.md). ' +
          '`--dry-run` shows the plan meanwhile.',
      );
    }
    if (definition.needsNodeControl && !cluster.config.nodeControl) {
      throw new WorkflowRefusedError(
        `${definition.name} runs CLI-only actions on nodes, which needs node control, and cluster ${cluster.config.name} has none. ` +
          `Set clusters[].nodeControl.command in the config (e.g. [rabbitmqctl, -n, "{node}", "{action}"] on a host ` +
          'that can reach the nodes; see docs/workflows.md).',
      );
    }
    const id = `r-${randomBytes(4).toString('hex')}`;
    const context = this.context(cluster, id, request.requester);
    const plan = await definition.plan(context, args);
    const now = this.now();
    const needed = approvalsNeeded(definition.risk);
    const run: RunRequest = {
      id,
      workflow: definition.name,
      cluster: cluster.config.name,
      args,
      risk: definition.risk,
      requester: request.requester,
      channel: request.channel,
      createdAt: now,
      ...(needed > 0 ? { expiresAt: now + this.options.remediation.approvalTtl } : {}),
      approvalsNeeded: needed,
      plan,
      ...(alertId ? { alertId } : {}),
    };
    const base = {
      run: id,
      workflow: definition.name,
      cluster: cluster.config.name,
      vhosts: planVhosts(plan),
      user: request.requester,
    };
    if (request.dryRun) {
      await this.audit_({ ...base, event: 'dry-run', detail: plan.summary });
      return ephemeral(dryRunText(run));
    }
    const lease = this.executor.newLease();
    await this.store.create(run, needed > 0 ? 'pending' : 'running', lease);
    await this.audit_({ ...base, event: 'requested', detail: `${plan.summary} [args: ${describeArgs(args)}]` });
    const posted = await this.refresh(id);
    const later = posted ? '' : ' Slack did not take the run message yet; warren keeps trying and posts it in order.';
    if (needed === 0) {
      this.executor.background(id, lease);
      return ephemeral(
        `Started run \`${id}\` (${definition.name}, risk low): ${plan.summary}. Progress in the channel.${later}`,
      );
    }
    return ephemeral(
      `Requested approval for run \`${id}\` (${definition.name}, risk ${definition.risk}): ${plan.summary}. ` +
        `It needs ${needed === 1 ? 'one approver' : `${needed} approvers`} other than you and expires at ` +
        `${formatTime(run.expiresAt as number)}.${later}`,
    );
  }

  private async resolve(request: StartRequest): Promise<{
    definition: AnyWorkflowDefinition;
    args: Record<string, unknown>;
    cluster: ClusterHandle;
    alertId?: string;
  }> {
    if (request.target.includes('@')) {
      const alert = await this.options.alert?.(request.target);
      if (alert?.status !== 'firing') {
        throw new WorkflowRefusedError(`There is no firing alert \`${request.target}\` (see \`alerts\`).`);
      }
      const name = this.options.workflowOfCheck?.(alert.check);
      const definition = name ? this.workflow(name) : undefined;
      if (!definition)
        throw new WorkflowRefusedError(
          `No workflow fixes \`${alert.check}\` alerts; the alert says what to do by hand.`,
        );
      // The alert's values, with what the user typed after its id taking precedence field by field.
      const args = this.parseArgs(definition, request.words, definition.argsForAlert?.(alert));
      return { definition, args, cluster: this.options.clusters.get(alert.cluster), alertId: alert.id };
    }
    const definition = this.workflow(request.target);
    if (!definition) {
      throw new WorkflowRefusedError(
        `Unknown workflow "${request.target}"; workflows: ${this.workflows.map((w) => w.name).join(', ')}.`,
      );
    }
    return { definition, args: this.parseArgs(definition, request.words), cluster: this.cluster(request.cluster) };
  }

  private cluster(name: string | undefined): ClusterHandle {
    if (name !== undefined) return this.options.clusters.get(name);
    const all = this.options.clusters.all();
    if (all.length === 1) return all[0] as ClusterHandle;
    throw new WorkflowRefusedError(
      all.length === 0
        ? 'No clusters are configured.'
        : `Name the cluster with --cluster (one of ${all.map((c) => c.config.name).join(', ')}).`,
    );
  }

  private parseArgs(
    definition: AnyWorkflowDefinition,
    words: WorkflowWords,
    fromAlert?: Record<string, unknown>,
  ): Record<string, unknown> {
    const parsed = parseWorkflowArgs(definition, words, fromAlert);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => i.message).join('; ');
      throw new WorkflowRefusedError(`${message}\nUsage: \`fix ${definition.name} ${definition.usage}\``.trim());
    }
    return parsed.data;
  }

  /**
   * A run this warren cannot execute (see storedArgs), that someone tries to approve or resume, is closed rather than
   * approved only to fail: aborted with the reason (its message loses its buttons), and the click refused with it.
   */
  private async refuseUnrunnable(run: WorkflowRun, clicker: Clicker): Promise<void> {
    const definition = this.workflow(run.workflow);
    if (!definition || (run.status !== 'pending' && run.status !== 'interrupted')) return;
    const stored = storedArgs(definition, run);
    if (stored.ok) {
      // The channel's scope may have changed since the run was requested there: approving is held to it as well.
      const clusterVhost = () => this.options.clusters.get(run.cluster).config.vhost;
      const outOfScope = this.scopeRefusal(run.channel, definition, stored.args, clusterVhost);
      if (!outOfScope) return;
      const who = runAudit(run, clicker.userId);
      await this.audit_({ ...who, event: 'approval-refused', detail: outOfScope });
      throw new RunRefusedError(`Not allowed: ${outOfScope}.`);
    }
    const reason = stored.reason;
    const closed = await this.store.transition(run.id, ['pending', 'interrupted'], 'aborted', this.now(), {
      outcome: reason,
    });
    if (closed === 'ok') {
      await this.audit_({
        ...runAudit(run, clicker.userId),
        event: 'aborted',
        detail: reason,
      });
      await this.refresh(run.id);
      await this.reply(run, `:no_entry: aborted: ${reason}`);
    }
    throw new RunRefusedError(`Cannot run this: ${reason}.`);
  }

  /**
   * Why a channel limited to some vhosts (access.vhostScopes) may not run this workflow with these arguments: it
   * acts in a vhost outside the scope, or across vhosts or on nodes (no `vhosts` in its definition). Undefined: it may.
   */
  private scopeRefusal(
    channel: string,
    definition: AnyWorkflowDefinition,
    args: unknown,
    clusterVhost: string | (() => string),
  ): string | undefined {
    const scope = this.options.access.vhostScope(channel);
    if (!scope) return undefined;
    const seen = `this channel sees only vhost ${scope.describe()} (access.vhostScopes)`;
    if (!definition.vhosts) return `${seen}, and ${definition.name} acts across vhosts or on nodes`;
    const vhosts = definition.vhosts(args, typeof clusterVhost === 'string' ? clusterVhost : clusterVhost());
    const outside = vhosts.filter((v) => !scope.allows(v));
    if (outside.length === 0) return undefined;
    return `${seen}, and this ${definition.name} would act in ${outside.map((v) => `\`${v}\``).join(', ')}`;
  }

  private context(cluster: ClusterHandle, runId: string, requester: string): WorkflowContext {
    const nodeControl = cluster.config.nodeControl;
    return {
      cluster: cluster.config.name,
      vhost: cluster.config.vhost,
      management: cluster.management,
      ...(nodeControl
        ? {
            nodeControl: nodeControlFrom(nodeControl),
          }
        : {}),
      remediation: this.options.remediation,
      health: this.options.health,
      runId,
      requester,
    };
  }

  // ── approving ──────────────────────────────────────────────────────────────────────────────────────────────

  private async boundRun(runId: string, clicker: Clicker): Promise<WorkflowRun> {
    if (!RUN_ID.test(runId)) throw new RunRefusedError('That button does not name a warren run.');
    const run = await this.store.get(runId);
    if (!run) throw new RunRefusedError(`There is no run \`${runId}\` (any more).`);
    // A button's value is untrusted: it must come from the run's own message, in the run's channel.
    if (
      clicker.channelId !== run.channel ||
      (clicker.messageTs && run.message && clicker.messageTs !== run.message.ts)
    ) {
      throw new RunRefusedError(`That button does not belong to run \`${runId}\`'s request.`);
    }
    return run;
  }

  async approve(runId: string, clicker: Clicker): Promise<ChatReply> {
    const run = await this.boundRun(runId, clicker);
    const base = runAudit(run, clicker.userId);
    if (!this.options.access.isApprover(clicker)) {
      await this.audit_({ ...base, event: 'approval-refused', detail: 'not an approver' });
      throw new RunRefusedError(`Only approvers (access.approvers) may approve runs; <@${clicker.userId}> is not one.`);
    }
    await this.refuseUnrunnable(run, clicker);
    const lease = this.executor.newLease();
    const outcome = await this.store.approve(run.id, clicker.userId, this.now(), lease);
    switch (outcome) {
      case 'self':
        await this.audit_({ ...base, event: 'approval-refused', detail: 'requester tried to approve their own run' });
        throw new RunRefusedError('You requested this run: someone else must approve it (two-person rule).');
      case 'again':
        throw new RunRefusedError(
          `You already approved run \`${run.id}\`; it needs ${run.approvalsNeeded - run.approvals.length} more from other approvers.`,
        );
      case 'expired':
        await this.audit_({ ...base, user: 'warren', event: 'expired', detail: 'approval deadline passed' });
        await this.refresh(run.id);
        throw new RunRefusedError(
          `Run \`${run.id}\` expired at ${formatTime(run.expiresAt ?? 0)} without approval; start it again with \`fix ${run.workflow}\` to re-plan.`,
        );
      case 'missing':
        throw new RunRefusedError(`There is no run \`${runId}\` (any more).`);
      case 'recorded': {
        await this.audit_({ ...base, event: 'approval-recorded', detail: 'waiting for another approver' });
        await this.refresh(run.id);
        return ephemeral(`Your approval of \`${run.id}\` is recorded; it needs one more approver (not the requester).`);
      }
      case 'approved': {
        await this.audit_({ ...base, event: 'approved', detail: `approved by ${clicker.userId}` });
        this.executor.background(run.id, lease);
        return ephemeral(`You approved \`${run.id}\`. It runs now; each step's result goes to the request's thread.`);
      }
      default:
        throw new RunRefusedError(`Run \`${run.id}\` is already ${outcome.slice('status:'.length)}; nothing to do.`);
    }
  }

  async reject(runId: string, clicker: Clicker): Promise<ChatReply> {
    const run = await this.boundRun(runId, clicker);
    if (!this.options.access.isApprover(clicker) && clicker.userId !== run.requester) {
      throw new RunRefusedError('Only approvers, or the requester withdrawing it, may reject a run.');
    }
    const outcome = await this.store.transition(run.id, ['pending'], 'rejected', this.now(), {
      closedBy: clicker.userId,
    });
    if (outcome !== 'ok') {
      throw new RunRefusedError(
        `Run \`${run.id}\` is ${outcome === 'missing' ? 'gone' : `already ${outcome.slice(7)}`}; nothing to reject.`,
      );
    }
    await this.audit_({
      ...runAudit(run, clicker.userId),
      event: 'rejected',
      detail: '',
    });
    await this.refresh(run.id);
    return ephemeral(`You rejected \`${run.id}\`; nothing was changed.`);
  }

  /**
   * Continues an interrupted run: the steps recorded done are not run again, every other step is guarded against
   * fresh state as always. Resuming changes the broker again, so it takes an approver other than the requester,
   * like the approval did.
   */
  async resume(runId: string, clicker: Clicker): Promise<ChatReply> {
    const run = await this.boundRun(runId, clicker);
    if (!this.options.access.isApprover(clicker)) {
      throw new RunRefusedError(`Only approvers (access.approvers) may resume a run; <@${clicker.userId}> is not one.`);
    }
    if (clicker.userId === run.requester) {
      throw new RunRefusedError('You requested this run: someone else must resume it (two-person rule).');
    }
    await this.refuseUnrunnable(run, clicker);
    const lease = this.executor.newLease();
    const outcome = await this.store.resume(run.id, lease, this.now());
    if (outcome !== 'ok') {
      throw new RunRefusedError(
        `Run \`${run.id}\` is ${outcome === 'missing' ? 'gone' : `${outcome.slice(7)}, not interrupted`}; nothing to resume.`,
      );
    }
    const done = run.steps.filter((s) => s.status === 'done').length;
    await this.audit_({
      ...runAudit(run, clicker.userId),
      event: 'resumed',
      detail: `${done} step(s) done before the interruption are not repeated`,
    });
    await this.reply(
      run,
      `:arrow_forward: resumed by <@${clicker.userId}>; the ${done} step(s) already done are skipped`,
    );
    this.executor.background(run.id, lease);
    return ephemeral(
      `You resumed \`${run.id}\`: the ${done} step(s) done before the interruption are not repeated; the others are guarded and run.`,
    );
  }

  /** Closes an interrupted run without running anything more: approvers, or the requester, may. */
  async abandon(runId: string, clicker: Clicker): Promise<ChatReply> {
    const run = await this.boundRun(runId, clicker);
    if (!this.options.access.isApprover(clicker) && clicker.userId !== run.requester) {
      throw new RunRefusedError('Only approvers, or the requester, may abandon a run.');
    }
    const outcome = await this.store.transition(run.id, ['interrupted'], 'abandoned', this.now(), {
      closedBy: clicker.userId,
    });
    if (outcome !== 'ok') {
      throw new RunRefusedError(
        `Run \`${run.id}\` is ${outcome === 'missing' ? 'gone' : `${outcome.slice(7)}, not interrupted`}; nothing to abandon.`,
      );
    }
    await this.audit_({
      ...runAudit(run, clicker.userId),
      event: 'abandoned',
      detail: `${run.steps.filter((s) => s.status === 'done').length} step(s) had been done`,
    });
    await this.refresh(run.id);
    await this.reply(run, `:no_entry_sign: abandoned by <@${clicker.userId}>; nothing more is run`);
    return ephemeral(`You abandoned \`${run.id}\`; nothing more will run. Check the state it left.`);
  }

  // ── sweeping ───────────────────────────────────────────────────────────────────────────────────────────────

  async sweep(): Promise<void> {
    const now = this.now();
    for (const id of await this.store.expiredPending(now)) {
      if ((await this.store.transition(id, ['pending'], 'expired', now)) !== 'ok') continue;
      const run = await this.store.get(id);
      if (!run) continue;
      await this.audit_({
        ...runAudit(run, 'warren'),
        event: 'expired',
        detail: 'approval deadline passed',
      });
      await this.refresh(id);
    }
    for (const id of await this.store.orphaned()) {
      const run = await this.store.get(id);
      if (!run) continue;
      const done = run.steps.filter((s) => s.status === 'done').map((s) => s.label);
      const detail =
        `warren stopped during the run; ${done.length > 0 ? `done before it stopped: ${done.join('; ')}` : 'no step had completed'}. ` +
        'Nothing is repeated on its own: Resume (another approver) runs the remaining steps, each guarded against ' +
        'fresh state; Abandon closes it.';
      if ((await this.store.interruptOrphan(id, now, { outcome: detail })) !== 'ok') continue;
      await this.audit_({
        ...runAudit(run, 'warren'),
        event: 'interrupted',
        detail,
      });
      await this.refresh(id);
      await this.reply(run, `:warning: interrupted: ${detail}`);
    }
    await this.messenger.deliverPending();
  }

  // ── chat and audit ─────────────────────────────────────────────────────────────────────────────────────────

  private async audit_(entry: NewAuditEntry): Promise<void> {
    await this.auditLog.append({ ...entry, detail: scrub(entry.detail) });
  }

  /**
   * The run's message is to show its stored state (posted if it never was). Slack failures never fail the run: the
   * change waits in Redis and the sweep delivers it. False while Slack does not have it yet.
   */
  private async refresh(id: string): Promise<boolean> {
    try {
      return await this.messenger.refresh(id);
    } catch (error) {
      this.options.logger.warn({ err: error, run: id }, 'could not queue the run message update');
      return false;
    }
  }

  /** A reply in the run's thread, after every earlier one; delivered like refresh(). */
  private async reply(run: WorkflowRun, text: string): Promise<void> {
    try {
      await this.messenger.reply(run.id, text);
    } catch (error) {
      this.options.logger.warn({ err: error, run: run.id }, 'could not queue a run update');
    }
  }
}
