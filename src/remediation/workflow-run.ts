/**
 * One run of a workflow, as stored in Redis: the request (who, what, where, the plan they were shown) and where it
 * is in its lifecycle. The request never changes after it is stored; status and approvals change only through the
 * run store's atomic transitions, so a double click or two replicas receiving the same click act once.
 *
 *   pending ──approve (enough approvers)──► approved ──► running ──► succeeded | failed | aborted | rolled-back
 *      ├──reject──► rejected        └──(low risk: straight to running)
 *      └──ttl────► expired                                running ──(warren died)──► interrupted
 *                                                   interrupted ──resume (another approver)──► approved
 *                                                   interrupted ──abandon──► abandoned
 *
 * A run that fails (a step, or its verification) after some steps ran is rolled back by its workflow where the
 * workflow can undo them: `rolled-back` when that worked; `failed`, saying the rollback failed, when it did not.
 */
import type { Risk, WorkflowPlan } from './workflow-definition.js';

export const RUN_STATUSES = [
  'pending',
  'approved',
  'running',
  'succeeded',
  'failed',
  'aborted',
  'rolled-back',
  'rejected',
  'expired',
  'interrupted',
  'abandoned',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a run may still leave; every other one is final. */
const LIVE_STATUSES: readonly RunStatus[] = ['pending', 'approved', 'running'];
export const FINAL_STATUSES: ReadonlySet<RunStatus> = new Set(RUN_STATUSES.filter((s) => !LIVE_STATUSES.includes(s)));

export interface RunRequest {
  id: string;
  workflow: string;
  cluster: string;
  /**
   * The workflow's arguments, validated when the run was requested (the definition's `args` output, as JSON). Absent
   * only in a run stored by an earlier warren, which kept them as text (`argsText`): such a run is refused.
   */
  args?: Record<string, unknown>;
  /** Only in runs stored by an earlier warren: the arguments as typed. Never parsed; shown when it is refused. */
  argsText?: string;
  risk: Risk;
  requester: string;
  channel: string;
  createdAt: number;
  /** Approval deadline; absent for low-risk runs, which never wait. */
  expiresAt?: number;
  approvalsNeeded: number;
  plan: WorkflowPlan;
  /** The alert whose Fix… button or id started it. */
  alertId?: string;
}

export type StepStatus = 'done' | 'skipped' | 'failed';

export interface StepRecord {
  key: string;
  label: string;
  status: StepStatus;
  detail: string;
  at: number;
}

export interface Approval {
  user: string;
  at: number;
}

export interface WorkflowRun extends RunRequest {
  status: RunStatus;
  approvals: Approval[];
  /** Who rejected it, or why it ended (abort reason, verification result). */
  closedBy?: string;
  outcome?: string;
  steps: StepRecord[];
  /** The approval/progress message in the channel. */
  message?: { channel: string; ts: string };
  updatedAt: number;
}
