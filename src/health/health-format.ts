/** Text for the health commands: findings by check, alerts and silences as operators scan them in chat. */
import { formatCount } from '../chat/human-format.js';
import type { AlertState } from './alert-state.js';
import { type CheckOutcome, type CheckResult, outcomeOf } from './check-run.js';
import type { Finding, FindingSeverity } from './finding.js';
import type { Silence } from './silences.js';

export const SEVERITY_ICON: Record<FindingSeverity, string> = {
  critical: ':red_circle:',
  warning: ':warning:',
  info: ':information_source:',
};

export function formatTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/:\d\d\.\d+Z$/, 'Z');
}

/** "in 42 min", "in 3 h": how long until a moment, for silences. */
export function formatRemaining(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

function findingList(findings: Finding[], max: number): string[] {
  const lines = findings.slice(0, max).map((f) => `${SEVERITY_ICON[f.severity]} ${f.summary}`);
  if (findings.length > max) lines.push(`…and ${formatCount(findings.length - max)} more`);
  return lines;
}

/**
 * One section per check that found something or could not run, and one line naming the checks that do not apply
 * to this broker version; checks that passed are counted, not listed. The three outcomes are never mixed: a check
 * that does not apply is neither counted as passed nor as could not run.
 */
export function healthReport(cluster: string, results: CheckResult[], maxPerCheck = 10): string[] {
  const sections: string[] = [];
  const by = (outcome: CheckOutcome) => results.filter((r) => outcomeOf(r) === outcome);
  const passed = by('passed').length;
  const found = by('found');
  const notApplicable = by('not_applicable');
  const skipped = by('could_not_run');
  const total = found.reduce((n, r) => n + (r.findings?.length ?? 0), 0);
  const counts = [
    `${passed} check(s) passed`,
    ...(notApplicable.length > 0 ? [`${notApplicable.length} not applicable`] : []),
    ...(skipped.length > 0 ? [`${skipped.length} could not run`] : []),
  ];
  sections.push(
    `*Health of \`${cluster}\`*: ${total === 0 ? ':large_green_circle: no findings' : `${formatCount(total)} finding(s) from ${found.length} check(s)`}` +
      ` · ${counts.join(' · ')}`,
  );
  for (const result of found) {
    const findings = result.findings ?? [];
    sections.push(
      [`*${result.check.title}* (\`${result.check.id}\`)`, ...findingList(findings, maxPerCheck)].join('\n'),
    );
  }
  for (const result of skipped) {
    sections.push(`:grey_question: *${result.check.title}* could not run: ${result.skipped}`);
  }
  // One line per reason: on a 4.0 cluster every mirror check gives the same one.
  const reasons = new Map<string, string[]>();
  for (const r of notApplicable)
    reasons.set(r.notApplicable ?? '', [...(reasons.get(r.notApplicable ?? '') ?? []), r.check.title]);
  for (const [why, titles] of reasons) {
    sections.push(`:heavy_minus_sign: ${titles.map((t) => `*${t}*`).join(', ')}: ${why}`);
  }
  return sections;
}

export function alertLine(alert: AlertState, extra: { silence?: Silence; ackedBy?: string }, now: number): string {
  const marks = [
    extra.silence
      ? `:mute: silenced (\`${extra.silence.id}\`, ${formatRemaining(extra.silence.expiresAt - now)} left)`
      : '',
    extra.ackedBy ? `:eyes: <@${extra.ackedBy}>` : '',
    alert.ts ? '' : 'not posted',
  ].filter(Boolean);
  const first = alert.findings[0]?.summary ?? '';
  return (
    `${SEVERITY_ICON[alert.severity]} \`${alert.id}\` — ${formatCount(alert.findingCount)} finding(s) since ${formatTime(alert.firedAt)}` +
    `${marks.length > 0 ? ` · ${marks.join(' · ')}` : ''}${first ? `\n    ${first}` : ''}`
  );
}

export function silenceLine(silence: Silence, now: number): string {
  return (
    `\`${silence.id}\` on \`${silence.target}\` by <@${silence.author}>, ${formatRemaining(silence.expiresAt - now)} left` +
    ` (until ${formatTime(silence.expiresAt)})${silence.reason ? ` — ${silence.reason}` : ''}`
  );
}
