/**
 * How an alert looks in Slack: severity, the check's title and cluster, every culprit (the first ones in full),
 * the runbook hint and the buttons (Fix… when a workflow applies, Silence 1h, Ack). Resolved, silenced and acked
 * alerts say so in the same message, which is edited in place. Rendering is pure; buttons carry only the alert
 * id, and every click is checked against the alert's stored state.
 */
import type { ActionsBlock, Button, KnownBlock } from '@slack/types';
import type { ChatMessage } from '../chat/chat-message.js';
import { formatCount } from '../chat/human-format.js';
import type { AlertState } from './alert-state.js';
import type { FindingSeverity } from './finding.js';
import type { Silence } from './silences.js';

export const ALERT_ACTIONS = {
  fix: 'warren:alert:fix',
  silence: 'warren:alert:silence',
  ack: 'warren:alert:ack',
} as const;

const ICON: Record<FindingSeverity, string> = {
  critical: ':red_circle:',
  warning: ':warning:',
  info: ':information_source:',
};

/** What a message needs to know about the check besides the alert's own state. */
export interface AlertPresentation {
  title: string;
  hint: string;
  /** The workflow behind the Fix… button, when it is available. */
  workflow?: string;
  silence?: Silence;
  ack?: AlertAck;
}

/** Who said they are on it; kept beside the alert until it resolves. */
export interface AlertAck {
  user: string;
  at: number;
}

const FULL_FINDINGS = 5;
const LISTED_FINDINGS = 15;

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/:\d\d\.\d+Z$/, 'Z');
}

function findingLines(alert: AlertState): string {
  const lines: string[] = [];
  alert.findings.slice(0, LISTED_FINDINGS).forEach((finding, i) => {
    lines.push(`• ${finding.summary}`);
    if (i < FULL_FINDINGS) for (const detail of finding.details ?? []) lines.push(`    ◦ ${detail}`);
  });
  const shown = Math.min(alert.findings.length, LISTED_FINDINGS);
  if (alert.findingCount > shown) lines.push(`…and ${formatCount(alert.findingCount - shown)} more`);
  return lines.join('\n');
}

function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger'): Button {
  return {
    type: 'button',
    text: { type: 'plain_text', text },
    action_id: actionId,
    value,
    ...(style ? { style } : {}),
  };
}

export function renderAlert(alert: AlertState, view: AlertPresentation): ChatMessage {
  const resolved = alert.status === 'resolved';
  const icon = resolved ? ':white_check_mark:' : ICON[alert.severity];
  const state = resolved ? 'RESOLVED' : alert.severity.toUpperCase();
  const count = `${formatCount(alert.findingCount)} finding${alert.findingCount === 1 ? '' : 's'}`;
  const heading = `${icon} *${state}: ${view.title}* on \`${alert.cluster}\` (${count})`;
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: heading } }];
  if (resolved) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `~Was:~\n${findingLines(alert)}` },
    });
  } else {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: findingLines(alert) } });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*What to do:* ${view.hint}` } });
  }
  const context = [`alert \`${alert.id}\``, `since ${time(alert.firedAt)}`];
  if (resolved && alert.resolvedAt) context.push(`resolved ${time(alert.resolvedAt)}`);
  if (view.ack && !resolved) context.push(`:eyes: acked by <@${view.ack.user}>`);
  if (view.silence && !resolved) {
    context.push(
      `:mute: silenced by <@${view.silence.author}> until ${time(view.silence.expiresAt)}` +
        (view.silence.reason ? ` (${view.silence.reason})` : ''),
    );
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] });
  if (!resolved) {
    const buttons: Button[] = [];
    if (view.workflow) buttons.push(button('Fix…', ALERT_ACTIONS.fix, alert.id, 'primary'));
    if (!view.silence) buttons.push(button('Silence 1h', ALERT_ACTIONS.silence, alert.id));
    if (!view.ack) buttons.push(button('Ack', ALERT_ACTIONS.ack, alert.id));
    if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons } satisfies ActionsBlock);
  }
  const first = alert.findings[0]?.summary.replace(/[`*]/g, '') ?? '';
  const text = `${state}: ${view.title} on ${alert.cluster} (${count})${first && !resolved ? `: ${first}` : ''}`;
  return { text, blocks };
}
