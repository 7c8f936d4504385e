/**
 * Queues without the policy they need (runbooks 1.2 and 1.5), judged from the queue's effective policy (its
 * `policy` field, looked up in /api/policies by vhost and name):
 * - with `health.haPattern` set, queues whose name matches it but are neither mirrored (no `ha-mode` in their
 *   policy) nor replicated by type (quorum, stream): they are lost with the node that hosts them;
 * - `_fanout_` and `reply_` queues that never expire (no `x-expires` argument and no `expires` in their policy):
 *   every one a dead process leaves behind lives forever.
 * Info, grouped: ONE finding per (kind, vhost) listing the first queues and the count, since a missing policy is
 * one fix for all of them. Exclusive queues are left out: they cannot be mirrored and die with their connection.
 * Judges only; setting the policy is the apply-policy workflow's.
 */
import { formatCount } from '../../chat/human-format.js';
import { formatDuration } from '../../config/duration.js';
import { hasClassicMirroring } from '../../management/broker-version.js';
import type { ClusterSnapshot, PolicyInfo, QueueInfo } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { parseOsloQueueName } from '../oslo-queue-names.js';
import { policyIndex, policyOf, queueExpiry } from './zombie-queues.js';

const ID = 'policy-coverage';
/** Queues named in a summary; data carries more, and the count is always exact. */
const NAMED = 5;
const IN_DATA = 100;
/** oslo's own default expiry for these queues (`rabbit_transient_queues_ttl` = 1800 s). */
const OSLO_EXPIRES_MS = 1_800_000;

type Kind = 'ha' | 'expiry';

interface Uncovered {
  kind: Kind;
  vhost: string;
  queues: QueueInfo[];
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function listed(queues: readonly QueueInfo[]): string {
  const names = code(queues.slice(0, NAMED).map((q) => q.name));
  return queues.length > NAMED ? `${names} and ${formatCount(queues.length - NAMED)} more` : names;
}

/** "none for 2, `notifications-ttl` for 1": which policies are in effect now, so the operator knows what to extend. */
function policiesInEffect(queues: readonly QueueInfo[]): { text: string; names: string[] } {
  const counts = new Map<string, number>();
  for (const q of queues) counts.set(q.policy ?? '', (counts.get(q.policy ?? '') ?? 0) + 1);
  const entries = [...counts].sort(([a], [b]) => a.localeCompare(b));
  return {
    text: entries.map(([p, n]) => `${p ? `\`${p}\`` : 'none'} for ${formatCount(n)}`).join(', '),
    names: entries.map(([p]) => p).filter((p) => p !== ''),
  };
}

function finding({ kind, vhost, queues }: Uncovered, haPattern: RegExp | undefined, mirroring: boolean): Finding {
  const sorted = [...queues].sort((a, b) => a.name.localeCompare(b.name));
  const n = sorted.length;
  const inVhost = `in vhost \`${vhost}\``;
  const effect = policiesInEffect(sorted);
  const details: string[] = [`Policy in effect: ${effect.text}`];
  if (effect.names.length > 0) {
    details.push(
      'A queue takes only the highest-priority policy that matches it: add the key to ' +
        `${code(effect.names)} rather than a new policy that would replace it`,
    );
  }
  let summary: string;
  let suggestedPolicy: Record<string, unknown> | undefined;
  if (kind === 'ha' && mirroring) {
    summary =
      `${formatCount(n)} queue${n === 1 ? '' : 's'} ${inVhost} match the HA pattern but ` +
      `${n === 1 ? 'is' : 'are'} neither mirrored nor quorum: ${listed(sorted)}`;
    details.unshift(`HA pattern \`${haPattern?.source ?? ''}\`: a queue on one node is lost with that node`);
  } else if (kind === 'ha') {
    // RabbitMQ 4.0 removed classic mirroring: no policy can replicate a classic queue any more.
    summary =
      `${formatCount(n)} queue${n === 1 ? '' : 's'} ${inVhost} match the HA pattern but ` +
      `${n === 1 ? 'is a classic queue' : 'are classic queues'}, which RabbitMQ 4 does not replicate: ${listed(sorted)}`;
    details.unshift(
      `HA pattern \`${haPattern?.source ?? ''}\`: a classic queue lives on one node and is lost with it; \`ha-*\` ` +
        'policy keys do nothing on RabbitMQ 4',
      'Declare them as quorum queues: oslo.messaging `rabbit_quorum_queue = true` (RPC queues) and ' +
        '`rabbit_transient_quorum_queue = true` (fanout and reply queues); a queue cannot change type in place, so ' +
        'the service recreates it after the option is set and the old queue is deleted',
    );
  } else {
    summary =
      `${formatCount(n)} fanout/reply queue${n === 1 ? '' : 's'} ${inVhost} never expire${n === 1 ? 's' : ''}: ` +
      listed(sorted);
    details.unshift(
      'No `x-expires` and no `expires` policy: the queue of every process that dies lives on, collecting fanout ' +
        'casts or replies (oslo sets `x-expires` from `rabbit_transient_queues_ttl` unless it is 0)',
    );
    suggestedPolicy = { pattern: '(_fanout_|^reply_)', applyTo: 'queues', definition: { expires: OSLO_EXPIRES_MS } };
    details.push(
      `Suggested: \`rabbitmqctl set_policy -p ${vhost} transient-expiry '(_fanout_|^reply_)' ` +
        `'{"expires":${OSLO_EXPIRES_MS}}' --apply-to queues\` (${formatDuration(OSLO_EXPIRES_MS)}, oslo's default)`,
    );
  }
  return {
    check: ID,
    severity: 'info',
    subject: `${kind}:${vhost}`,
    summary,
    details,
    data: {
      kind,
      vhost,
      count: n,
      queues: sorted.slice(0, IN_DATA).map((q) => q.name),
      ...(kind === 'ha' ? { haPattern: haPattern?.source ?? null } : {}),
      ...(suggestedPolicy ? { suggestedPolicy } : {}),
    },
  };
}

function mirrored(q: QueueInfo, policy: PolicyInfo | undefined, mirroring: boolean): boolean {
  return q.type === 'quorum' || q.type === 'stream' || (mirroring && policy?.definition['ha-mode'] !== undefined);
}

function evaluate(snapshot: ClusterSnapshot, { haPattern, version }: CheckContext): Finding[] {
  // Without a known version the 3.x reading stands: an ha-mode policy counts as replication.
  const mirroring = version === undefined || hasClassicMirroring(version);
  const policies = policyIndex(snapshot.policies);
  const groups = new Map<string, Uncovered>();
  const add = (kind: Kind, q: QueueInfo) => {
    const key = `${kind}\u0000${q.vhost}`;
    const group = groups.get(key);
    if (group) group.queues.push(q);
    else groups.set(key, { kind, vhost: q.vhost, queues: [q] });
  };
  for (const q of snapshot.queues ?? []) {
    if (q.exclusive === true) continue;
    if (haPattern) {
      // A pattern compiled with the g or y flag keeps state between test() calls.
      haPattern.lastIndex = 0;
      if (haPattern.test(q.name) && !mirrored(q, policyOf(q, policies), mirroring)) add('ha', q);
    }
    const oslo = parseOsloQueueName(q.name);
    if ((oslo?.kind === 'fanout' || oslo?.kind === 'reply') && queueExpiry(q, policies) === undefined) add('expiry', q);
  }
  return [...groups.values()]
    .map((g) => finding(g, haPattern, mirroring))
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

export const policyCoverageCheck = defineCheck({
  id: ID,
  title: 'Queues without the policy they need',
  hint:
    'Add the key to the policy that matches these queues, or add a policy (Fix…): an `expires` policy on `_fanout_` ' +
    'and `reply_` queues (oslo uses 30 min) cleans up after dead processes; queues that must survive a node need ' +
    '`ha-mode` in their policy (RabbitMQ 3.x only) or to be declared as quorum queues (`rabbit_quorum_queue`).',
  workflow: 'apply-policy',
  needs: ['queues', 'policies'],
  evaluate,
});
