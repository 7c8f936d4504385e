/**
 * The lifecycle of one alert (one check on one cluster, one Slack message) as a pure transition: given the stored
 * state, this sweep's firing findings and the time, it returns the next state and the thread replies to post.
 * No I/O here: the alert store persists the state in Redis and the reconciler makes Slack match it.
 */
import { type Finding, type FindingSeverity, worstSeverity } from './finding.js';

export type AlertStatus = 'firing' | 'resolved';

export interface AlertState {
  /** `<check>@<cluster>`: what operators type in `/rabbit silence` and `/rabbit fix`. */
  id: string;
  cluster: string;
  check: string;
  status: AlertStatus;
  severity: FindingSeverity;
  /** The firing findings, at most MAX_STORED_FINDINGS of them; `findingCount` is the full number. */
  findings: Finding[];
  findingCount: number;
  firedAt: number;
  updatedAt: number;
  remindedAt: number;
  resolvedAt?: number;
  /** Where the message lives once posted; no `ts` while it has not been posted (or is silenced from the start). */
  channel: string;
  ts?: string;
  /**
   * Thread replies (resolution, reminders) the transition queued and the reconciler has not yet handed to the Slack
   * outbox; it moves them there, in one write with this state, at the end of the same sweep.
   */
  replies: string[];
  /**
   * Earlier episodes of this alert that resolved with replies not yet handed to the outbox when it fired again (the
   * sweep that resolved it lost its lock before reconciling), oldest first. The reconciler stages each as its own
   * outbox message, delivered before the new one.
   */
  superseded?: AlertState[];
}

/** Enough to name every culprit in a message; the count says how many more there are. */
export const MAX_STORED_FINDINGS = 100;

export interface TransitionInput {
  id: string;
  cluster: string;
  check: string;
  channel: string;
  previous: AlertState | undefined;
  /** Findings that failed on enough consecutive sweeps to fire. Empty: the check passed. */
  firing: Finding[];
  now: number;
  repeatIntervalMs: number;
  /** A silenced or acknowledged alert still tracks its findings but is not reminded. */
  quiet: boolean;
}

export type AlertEvent = 'fired' | 'updated' | 'reminded' | 'resolved' | 'unchanged' | 'quiet';

function formatAge(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} s`;
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

export function sortFindings(findings: Finding[]): Finding[] {
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  return [...findings].sort((a, b) => rank[a.severity] - rank[b.severity] || a.subject.localeCompare(b.subject));
}

/**
 * What a resolved alert has not yet handed to the Slack outbox, itself included. A posted alert's resolution always
 * queues a reply, and the reconciler stages the RESOLVED rendering with it, so a posted message with no reply left
 * here is the outbox's to finish.
 */
function owedToSlack(previous: AlertState): AlertState[] {
  const { superseded = [], ...own } = previous;
  return own.ts && own.replies.length > 0 ? [...superseded, own] : superseded;
}

export function transition(input: TransitionInput): { state: AlertState | undefined; event: AlertEvent } {
  const { previous, firing, now } = input;
  if (firing.length === 0) {
    if (!previous || previous.status === 'resolved') return { state: previous, event: 'quiet' };
    const replies = [...previous.replies];
    // An alert that never reached Slack (silenced throughout, or Slack down) has nobody to tell.
    if (previous.ts || replies.length > 0) {
      replies.push(`:white_check_mark: Resolved after ${formatAge(now - previous.firedAt)}.`);
    }
    return {
      state: { ...previous, status: 'resolved', resolvedAt: now, updatedAt: now, replies },
      event: 'resolved',
    };
  }
  const sorted = sortFindings(firing);
  const findings = sorted.slice(0, MAX_STORED_FINDINGS);
  const severity = worstSeverity(sorted.map((f) => f.severity));
  if (!previous || previous.status === 'resolved') {
    const superseded = previous ? owedToSlack(previous) : [];
    return {
      state: {
        ...(superseded.length > 0 ? { superseded } : {}),
        id: input.id,
        cluster: input.cluster,
        check: input.check,
        status: 'firing',
        severity,
        findings,
        findingCount: sorted.length,
        firedAt: now,
        updatedAt: now,
        remindedAt: now,
        channel: input.channel,
        replies: [],
      },
      event: 'fired',
    };
  }
  const state: AlertState = { ...previous, severity, findings, findingCount: sorted.length, updatedAt: now };
  if (!input.quiet && previous.ts && now - previous.remindedAt >= input.repeatIntervalMs) {
    const lines = findings.slice(0, 5).map((f) => `• ${f.summary}`);
    const more = sorted.length > lines.length ? `\n…and ${sorted.length - lines.length} more` : '';
    state.replies = [
      ...previous.replies,
      `:bell: Still firing after ${formatAge(now - previous.firedAt)}:\n${lines.join('\n')}${more}`,
    ];
    state.remindedAt = now;
    return { state, event: 'reminded' };
  }
  const changed =
    previous.severity !== severity ||
    previous.findingCount !== sorted.length ||
    JSON.stringify(previous.findings) !== JSON.stringify(findings);
  return { state, event: changed ? 'updated' : 'unchanged' };
}
