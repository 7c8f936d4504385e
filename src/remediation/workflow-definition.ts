/**
 * The shape of a remediation workflow. Definitions in `workflows/` are plain objects: `plan` reads and proposes,
 * `guard` re-checks one planned action against fresh state right before it runs, `execute` performs it
 * idempotently, `verify` checks the outcome. None of them posts to Slack or touches run state: the engine does.
 * A plan is data (JSON), so a run can wait for approval across a restart and be executed by another replica.
 * Arguments are parsed once, where they come in (the `fix` command's words, or an alert's values merged with the
 * words typed after its id: `parseWorkflowArgs`), and the typed values are what the run stores and the steps get.
 */
import type { z } from 'zod';
import type { HealthConfig } from '../config/health-schema.js';
import type { RemediationConfig } from '../config/remediation-schema.js';
import { WorkflowRefusedError } from '../errors.js';
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
  /**
   * The vhosts the step acts in (a queue's, a policy's, a connection's), for the run message and every audit record.
   * Absent for a step that acts on a node or the whole cluster (a node's app, its memory watermark, a rebalance).
   */
  vhosts?: string[];
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

/**
 * The words typed after the workflow's name (`fix purge-queue q --force`: `q` and `--force`), as the command front
 * end split them. Declared here, not imported from chatops, so remediation depends on no front end.
 */
export interface WorkflowWords {
  positionals: string[];
  flags: Record<string, string | true>;
}

export interface WorkflowDefinition<A> {
  name: string;
  description: string;
  risk: Risk;
  /** Arguments after the name, e.g. `<queue> [--vhost V] [--force]`. */
  usage: string;
  /** Flags that never take a value (`--force`): the `fix` command splits every workflow's words with them. */
  booleanFlags?: readonly string[];
  /**
   * Names the words: which positional or flag is which field of `args`, with a flag's text turned into its type
   * where that needs nothing else (`--min-channels 5` → 5). It checks their shape (how many positionals, which
   * flags) and leaves out what was not typed, so that typed words override an alert's values field by field.
   */
  words: z.ZodType<Record<string, unknown>, WorkflowWords>;
  /**
   * The arguments as the steps get them and the run stores them (JSON), from the named words merged over
   * `argsForAlert`'s values. A stored run's arguments are parsed with it again when it executes, so it must take its
   * own output back unchanged.
   */
  args: z.ZodType<A>;
  /**
   * The vhosts a run acts in, when it acts in named ones (`--vhost`, else the cluster's own): a channel limited to
   * some vhosts (access.vhostScopes) may start and approve it only when every one is in scope. Unset: the workflow
   * acts across vhosts or on nodes, and such a channel may not start it at all.
   */
  vhosts?(args: A, clusterVhost: string): readonly string[];
  /** Says so in the preview and refuses to start when the cluster has no node control configured. */
  needsNodeControl?: boolean;
  /** The arguments that fix what an alert of the check that names this workflow reports. */
  argsForAlert?(alert: AlertState): Partial<A>;
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

/**
 * The cluster's node control, for a workflow that `needsNodeControl`. The engine refuses to start such a run on a
 * cluster without it; this covers a plan or step reached some other way. `why` says what needs the CLI.
 */
export function nodeControlOf(context: WorkflowContext, why: string): NodeControl {
  if (!context.nodeControl) throw new WorkflowRefusedError(`cluster ${context.cluster} has no node control: ${why}`);
  return context.nodeControl;
}

/**
 * The one parse of a workflow's arguments: the words typed, named, over the values an alert gave (`fromAlert`), then
 * validated as a whole. Fails with the words' or the arguments' problems, as zod reports them.
 */
export function parseWorkflowArgs<A>(
  definition: WorkflowDefinition<A>,
  words: WorkflowWords,
  fromAlert: Partial<A> = {},
): z.ZodSafeParseResult<A> {
  const named = definition.words.safeParse(words);
  if (!named.success) return { success: false, error: named.error as unknown as z.ZodError<A> };
  const typed = Object.fromEntries(Object.entries(named.data).filter(([, value]) => value !== undefined));
  return definition.args.safeParse({ ...fromAlert, ...typed });
}

/** The vhosts a plan acts in, each once, sorted: `[]` for a workflow that acts on nodes or the whole cluster. */
export function planVhosts(plan: Pick<WorkflowPlan, 'actions'>): string[] {
  return [...new Set(plan.actions.flatMap((a) => a.vhosts ?? []))].sort();
}

/** A run's arguments for people (the audit trail, a refusal): `node=rabbit@b value=1800000`, or `none`. */
export function describeArgs(args: unknown): string {
  if (typeof args !== 'object' || args === null) return 'none';
  const word = (value: unknown): string => {
    const text = Array.isArray(value) ? value.map(String).join(',') : String(value);
    return /^[^\s"]+$/.test(text) ? text : JSON.stringify(text);
  };
  const fields = Object.entries(args)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${word(value)}`);
  return fields.length > 0 ? fields.join(' ') : 'none';
}
