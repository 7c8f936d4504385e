/**
 * How a run looks in the channel: one message, edited in place from approval request to outcome. While pending it
 * shows the plan (summary, warnings, each action, the guards), the requester, approvals so far and the deadline,
 * with Approve / Reject buttons; afterwards the buttons give way to the status. Rendering is pure, and the
 * buttons carry only the run id: every click is checked against the stored run.
 */
import type { Button, KnownBlock } from '@slack/types';
import type { ChatMessage } from '../chat/chat-message.js';
import { formatCount } from '../chat/human-format.js';
import { vhostList } from '../chat/vhost-text.js';
import { formatTime } from '../health/health-format.js';
import { planVhosts, type WorkflowPlan } from './workflow-definition.js';
import type { RunRequest, RunStatus, WorkflowRun } from './workflow-run.js';

export const RUN_ACTIONS = {
  approve: 'warren:run:approve',
  reject: 'warren:run:reject',
  resume: 'warren:run:resume',
  abandon: 'warren:run:abandon',
} as const;

const LISTED_ACTIONS = 15;

const STATUS_LINE: Record<RunStatus, string> = {
  pending: ':hourglass_flowing_sand: Waiting for approval',
  approved: ':white_check_mark: Approved, starting',
  running: ':gear: Running',
  succeeded: ':white_check_mark: Done and verified',
  failed: ':x: Failed',
  aborted: ':no_entry: Aborted',
  'rolled-back': ':rewind: Failed and rolled back',
  rejected: ':no_entry_sign: Rejected',
  expired: ':hourglass: Expired without approval',
  interrupted: ':warning: Interrupted (warren stopped mid-run)',
  abandoned: ':no_entry_sign: Abandoned after an interruption',
};

function button(text: string, actionId: string, value: string, style: 'primary' | 'danger'): Button {
  return { type: 'button', text: { type: 'plain_text', text }, action_id: actionId, value, style };
}

export function planLines(run: Pick<WorkflowRun, 'plan'>): string {
  const { plan } = run;
  const lines = plan.actions.slice(0, LISTED_ACTIONS).map((a, i) => `${i + 1}. ${a.label}`);
  if (plan.actions.length > LISTED_ACTIONS)
    lines.push(`…and ${formatCount(plan.actions.length - LISTED_ACTIONS)} more`);
  if (plan.leftOut) lines.push(`(${formatCount(plan.leftOut)} more qualify; left for a later run)`);
  return lines.join('\n');
}

/**
 * Where the run acts, always said (the default vhost too: on a cloud with a vhost per service, an approver should
 * not have to infer it): "Acts in vhost `/nova`", "Acts in vhosts `/`, `/nova`", or that it acts on nodes only.
 */
export function planReach(plan: WorkflowPlan): string {
  const vhosts = planVhosts(plan);
  if (vhosts.length === 0) return 'Acts on nodes or the whole cluster, in no vhost';
  return `Acts in vhost${vhosts.length > 1 ? 's' : ''} ${vhostList(vhosts)}`;
}

/** The answer to `fix … --dry-run`: the plan as a real run would show it, and what a real run would need. */
export function dryRunText(run: RunRequest): string {
  const lines = [
    `*Dry run* of \`${run.workflow}\` on \`${run.cluster}\` (risk ${run.risk}): nothing was requested or changed.`,
    run.plan.summary,
    `_${planReach(run.plan)}_`,
    ...run.plan.warnings.map((w) => `:warning: ${w}`),
    `*Plan*\n${planLines(run)}`,
  ];
  if (run.plan.guards.length > 0) {
    lines.push(`*Re-checked before each step*\n${run.plan.guards.map((g) => `• ${g}`).join('\n')}`);
  }
  lines.push(
    run.approvalsNeeded === 0
      ? 'A real run starts at once (low risk).'
      : `A real run needs ${run.approvalsNeeded === 1 ? 'one approver' : `${run.approvalsNeeded} approvers`} other than the requester.`,
  );
  return lines.join('\n');
}

export function renderRun(run: WorkflowRun, now: number): ChatMessage {
  const title = `\`${run.workflow}\` on \`${run.cluster}\` (risk ${run.risk}, run \`${run.id}\`)`;
  const head = `*${STATUS_LINE[run.status]}*: ${title}\n${run.plan.summary}\n_${planReach(run.plan)}_`;
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: head } }];
  if (run.plan.warnings.length > 0) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: run.plan.warnings.map((w) => `:warning: ${w}`).join('\n') },
    });
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Plan*\n${planLines(run)}` } });
  if (run.plan.guards.length > 0) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Re-checked before each step*\n${run.plan.guards.map((g) => `• ${g}`).join('\n')}`,
      },
    });
  }
  const context = [`requested by <@${run.requester}> at ${formatTime(run.createdAt)}`];
  if (run.approvalsNeeded > 0) {
    const who = run.approvals.map((a) => `<@${a.user}>`).join(', ');
    context.push(`approvals ${run.approvals.length}/${run.approvalsNeeded}${who ? ` (${who})` : ''}`);
  }
  if (run.status === 'pending' && run.expiresAt !== undefined) {
    context.push(
      `expires ${formatTime(run.expiresAt)} (in ${Math.max(0, Math.round((run.expiresAt - now) / 60_000))} min)`,
    );
  }
  if (run.closedBy) context.push(run.status === 'rejected' ? `rejected by <@${run.closedBy}>` : run.closedBy);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] });
  if (run.steps.length > 0) {
    const done = run.steps.filter((s) => s.status === 'done').length;
    const skipped = run.steps.filter((s) => s.status === 'skipped').length;
    const failed = run.steps.filter((s) => s.status === 'failed').length;
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Steps*: ${done} done, ${skipped} skipped, ${failed} failed of ${run.plan.actions.length} (details in the thread)`,
      },
    });
  }
  if (run.outcome) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Outcome*: ${run.outcome}` } });
  if (run.status === 'pending') {
    blocks.push({
      type: 'actions',
      elements: [
        button('Approve', RUN_ACTIONS.approve, run.id, 'primary'),
        button('Reject', RUN_ACTIONS.reject, run.id, 'danger'),
      ],
    });
  }
  if (run.status === 'interrupted') {
    blocks.push({
      type: 'actions',
      elements: [
        button('Resume', RUN_ACTIONS.resume, run.id, 'primary'),
        button('Abandon', RUN_ACTIONS.abandon, run.id, 'danger'),
      ],
    });
  }
  return {
    text: `${STATUS_LINE[run.status].replace(/^:[a-z_]+: /, '')}: ${run.workflow} on ${run.cluster} (${run.id})`,
    blocks,
  };
}
