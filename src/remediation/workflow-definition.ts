/**
 * The shape of a remediation workflow. Definitions in `workflows/` are plain objects: `plan` reads and proposes,
 * `guard` re-checks one planned action against fresh state right before it runs, `execute` performs it
 * idempotently, `verify` checks the outcome. None of them posts to Slack or touches run state: the engine does.
 * A plan is data (JSON), so a run can wait for approval across a restart and be executed by another replica.
 */
import type { z } from 'zod';
import type { Argv } from '../chatops/argv.js';
import type { HealthConfig } from '../config/health-schema.js';
import type { RemediationConfig } from '../config/remediation-schema.js';
import type { AlertState } from '../health/alert-state.js';
import type { ManagementClient } from '../management/management-client.js';
import type { NodeControl } from './node-control.js';

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];

/** Approvals a run of this risk needs before it executes: none for low, two distinct people for critical. */
export function approvalsNeeded(risk: Risk): number {
  return risk === 'low' ? 0 : risk === 'critical' ? 2 : 1;
}

/** One change the plan proposes, e.g. deleting one queue. `data` is what guard and execute need, as JSON. */
export interface PlannedAction {
  /** Stable within the plan, e.g. the queue key; names the step in the audit trail. */
  key: string;
  /** What the step does, for people: "delete `q` (20 messages)". */
  label: string;
  data: Record<string, unknown>;
}

export interface WorkflowPlan {
  /** One line: what the run would do and its blast radius, e.g. "delete 3 queues holding 4,211 messages". */
  summary: string;
  /** Anything the approver must know before saying yes (a sync blocks the queue, a policy it would shadow…). */
  warnings: string[];
  actions: PlannedAction[];
  /** What is re-checked before each step, in words, for the preview. */
  guards: string[];
  /** Items that qualified but were left for a later run (per-run limit). */
  leftOut?: number;
}

export interface WorkflowContext {
  cluster: string;
  vhost: string;
  management: ManagementClient;
  /** Present when the cluster has `nodeControl` configured. */
  nodeControl?: NodeControl;
  remediation: RemediationConfig;
  health: HealthConfig;
  runId: string;
  requester: string;
}

/** Why a step must not run now; `abort` stops the whole run, otherwise the step is skipped and the run goes on. */
export interface GuardFailure {
  reason: string;
  abort: boolean;
}

export interface Verification {
  ok: boolean;
  detail: string;
}

export interface WorkflowDefinition<A> {
  name: string;
  description: string;
  risk: Risk;
  /** Arguments after the name, e.g. `<queue> [--vhost V] [--force]`. */
  usage: string;
  booleanFlags?: readonly string[];
  args: z.ZodType<A, Argv>;
  /** Says so in the preview and refuses to start when the cluster has no node control configured. */
  needsNodeControl?: boolean;
  /** The arguments (as command text) that fix what an alert of the check that names this workflow reports. */
  argsForAlert?(alert: AlertState): string;
  /** Read-only. Throws WorkflowRefusedError when nothing qualifies. */
  plan(context: WorkflowContext, args: A): Promise<WorkflowPlan>;
  /** Fresh state, right before `action` runs: undefined when it still holds. */
  guard(context: WorkflowContext, action: PlannedAction, args: A): Promise<GuardFailure | undefined>;
  /** Idempotent: running it twice leaves the same state and says so ("already gone"). Returns the result line. */
  execute(context: WorkflowContext, action: PlannedAction, args: A): Promise<string>;
  /** The post-condition over the actions that ran. */
  verify(context: WorkflowContext, done: readonly PlannedAction[], args: A): Promise<Verification>;
  /** Undoes what the run did, where that is possible (a policy it added). */
  rollback?(context: WorkflowContext, done: readonly PlannedAction[], args: A): Promise<string>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of different argument types.
export type AnyWorkflowDefinition = WorkflowDefinition<any>;

export function defineWorkflow<A>(definition: WorkflowDefinition<A>): WorkflowDefinition<A> {
  return definition;
}
