/**
 * A tap group as Slack shows it: the group's message (severity, count and time span, cluster, vhosts, hosts and
 * instances, the last error), edited in place as the group grows, and its first notifications as samples in its
 * thread, the ones waiting together in one reply. The grouper (alert-grouper.ts) decides when; this decides what they say.
 */
import type { KnownBlock } from '@slack/types';
import type { ChatMessage } from '../chat/chat-message.js';
import { formatCount } from '../chat/human-format.js';
import type { Severity, TapEvent } from './notification-router.js';

/** A group as stored in Redis and rendered: what the grouper counted and remembered for it. */
export interface GroupState {
  id: string;
  channel: string;
  title: string;
  severity: Severity;
  groupKey: string;
  route: string;
  cluster: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  lastError?: string;
  ts?: string;
  hosts: string[];
  instances: string[];
  /** The vhosts the group's events came from (empty for groups recorded before warren knew them). */
  vhosts: string[];
}

const SEVERITY_ICON: Record<Severity, string> = {
  critical: ':red_circle:',
  error: ':red_circle:',
  warning: ':warning:',
  info: ':information_source:',
};

function listPreview(items: string[], max = 8): string {
  const shown = items.slice(0, max).map((i) => `\`${i}\``);
  return items.length > max ? `${shown.join(', ')} and ${items.length - max} more` : shown.join(', ');
}

function time(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function renderGroup(group: GroupState): ChatMessage {
  const title = `${SEVERITY_ICON[group.severity]} ${group.title}`;
  const times =
    group.count === 1 ? `at ${time(group.firstSeen)}` : `${time(group.firstSeen)} → ${time(group.lastSeen)}`;
  const summary = `*${formatCount(group.count)}* event${group.count === 1 ? '' : 's'} ${times}`;
  const fields: string[] = [`*Severity*\n${group.severity}`, `*Cluster*\n${group.cluster}`];
  // Said where it matters: once a group comes from a vhost other than the default one (a vhost per service).
  if (group.vhosts.length > 1 || (group.vhosts.length === 1 && group.vhosts[0] !== '/')) {
    fields.push(
      `*${group.vhosts.length === 1 ? 'Vhost' : `Vhosts (${group.vhosts.length})`}*\n${listPreview(group.vhosts)}`,
    );
  }
  if (group.hosts.length > 0) fields.push(`*Hosts (${group.hosts.length})*\n${listPreview(group.hosts)}`);
  if (group.instances.length > 0) {
    fields.push(`*Instances (${group.instances.length})*\n${listPreview(group.instances, 5)}`);
  }
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${summary}` } },
    { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn' as const, text })) },
  ];
  if (group.lastError) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Last error*\n\`\`\`${group.lastError}\`\`\`` } });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `route ${group.route} · grouped by ${group.groupKey} · samples in thread` }],
  });
  return { text: `${group.title}: ${group.count} event(s)`, blocks };
}

/** One notification as a thread reply: what an operator needs to start digging. */
export function renderSample(event: TapEvent): string {
  const n = event.notification;
  const f = event.facts;
  const where = event.vhost && event.vhost !== '/' ? ` in vhost \`${event.vhost}\`` : '';
  const lines = [`\`${n.eventType}\` ${n.priority} from \`${n.publisherId}\`${where} at ${n.timestamp} UTC`];
  const ids = [
    f.instanceId && `instance \`${f.instanceId}\``,
    f.resourceId && `resource \`${f.resourceId}\``,
    f.projectId && `project \`${f.projectId}\``,
    f.state && `state ${f.state}`,
  ].filter(Boolean);
  if (ids.length > 0) lines.push(ids.join(' · '));
  if (f.exception || f.errorMessage) lines.push(`> ${[f.exception, f.errorMessage].filter(Boolean).join(': ')}`);
  if (f.serviceStatus) {
    const s = f.serviceStatus;
    lines.push(`service ${s.binary ?? '?'} on ${s.host ?? '?'}: disabled=${s.disabled} forced_down=${s.forcedDown}`);
  }
  lines.push(`message_id \`${n.messageId}\``);
  return lines.join('\n');
}

/** Characters of samples per thread reply: well under Slack's limit, and short enough to read without expanding. */
export const SAMPLE_REPLY_CHARS = 3_500;

/**
 * How many of `samples` (oldest first) go in one thread reply: as many as fit in SAMPLE_REPLY_CHARS, at least one.
 * On a busy channel a group's samples queue up; one reply for all of them takes one of the channel's slots instead
 * of one each.
 */
export function samplesPerReply(samples: readonly string[]): number {
  let chars = 0;
  let n = 0;
  for (const sample of samples) {
    chars += sample.length + 2;
    if (n > 0 && chars > SAMPLE_REPLY_CHARS) break;
    n++;
  }
  return n;
}

/**
 * A thread reply carrying `samples`. `more` is set on the reply with the group's last sample shown in full (the
 * `tap.maxSamples`th) when the group already counts more events than that: those are counted, not shown.
 */
export function renderSampleReply(samples: readonly string[], more?: { maxSamples: number; count: number }): string {
  const text = samples.join('\n\n');
  if (!more || more.count <= more.maxSamples) return text;
  return `${text}\n\n_…and ${formatCount(more.count - more.maxSamples)} more so far, counted in the message above: the first ${formatCount(more.maxSamples)} are shown in full (\`tap.maxSamples\`)._`;
}
