/**
 * Streams without a retention limit. A stream keeps every message until its retention removes whole segments:
 * `x-max-age` or `x-max-length-bytes` (argument), or `max-age` / `max-length-bytes` in its effective policy. With
 * none of them it grows until the node's disk alarm blocks every publisher in the cluster (runbook 1.8). oslo's
 * stream fanout sets `x-max-age` itself; a stream declared by hand or by another client may not. One warning per
 * stream, judged from the stream's own stats (the `streams` part: the broker's effective policy, so no policymaker
 * tag is needed). Judges only; adding the policy is the operator's.
 */
import { nameInVhost, vhostOption } from '../../chat/vhost-text.js';
import type { ClusterSnapshot, PolicyInfo, StreamReplicas } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';
import { policyIndex } from './zombie-queues.js';

const ID = 'stream-retention';
const RETENTION_ARGUMENTS = ['x-max-age', 'x-max-length-bytes'] as const;
const RETENTION_POLICY_KEYS = ['max-age', 'max-length-bytes'] as const;

const present = (value: unknown) => value !== undefined && value !== null && value !== '';

/** The stream's policy definition: the broker's own resolution, else the listed policy of that name. */
function policyDefinition(
  stream: StreamReplicas,
  policies: ReadonlyMap<string, PolicyInfo>,
): Record<string, unknown> | undefined {
  if (stream.effectivePolicy) return stream.effectivePolicy;
  return stream.policy ? policies.get(`${stream.vhost}\u0000${stream.policy}`)?.definition : undefined;
}

/** The limit that bounds the stream, e.g. "`x-max-age` 1800s", or undefined when nothing does. */
export function streamRetention(
  stream: StreamReplicas,
  policies: ReadonlyMap<string, PolicyInfo> = new Map(),
): string | undefined {
  for (const key of RETENTION_ARGUMENTS) {
    if (present(stream.arguments[key])) return `\`${key}\` ${String(stream.arguments[key])}`;
  }
  const definition = policyDefinition(stream, policies);
  for (const key of RETENTION_POLICY_KEYS) {
    if (present(definition?.[key])) return `\`${key}\` ${String(definition?.[key])} (policy \`${stream.policy}\`)`;
  }
  return undefined;
}

function streamName(s: StreamReplicas): string {
  return nameInVhost(s.name, s.vhost);
}

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  const policies = policyIndex(snapshot.policies);
  const findings: Finding[] = [];
  for (const stream of snapshot.streams ?? []) {
    if (streamRetention(stream, policies) !== undefined) continue;
    findings.push({
      check: ID,
      severity: 'warning',
      subject: queueKey(stream),
      summary: `Stream ${streamName(stream)} has no retention limit: it keeps every message until the disk alarm`,
      details: [
        'No `x-max-age` or `x-max-length-bytes` argument, and no `max-age` or `max-length-bytes` in its policy' +
          (stream.policy ? ` (\`${stream.policy}\`)` : ''),
        `Bound it with a policy, e.g. \`rabbitmqctl set_policy ${vhostOption(stream.vhost)}stream-retention '^${stream.name}$' ` +
          `'{"max-age":"1h"}' --apply-to streams\` (oslo's stream fanout sets \`x-max-age\` itself); a policy ` +
          'replaces any other of lower priority, so add the key to the one in effect if there is one',
      ],
      data: { vhost: stream.vhost, name: stream.name, policy: stream.policy ?? null },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const streamRetentionCheck = defineCheck({
  id: ID,
  title: 'Streams without retention',
  hint:
    'Give the stream a `max-age` or `max-length-bytes` policy (`--apply-to streams`), or declare it with ' +
    '`x-max-age`: a stream without one grows until the disk alarm blocks every publisher.',
  needs: ['streams'],
  evaluate,
});
