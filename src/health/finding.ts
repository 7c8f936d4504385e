/**
 * A finding is one culprit that one check found on one cluster in one sweep: a queue, a node, a connection. With
 * the cluster and the check, its `subject` is the fingerprint that the alert lifecycle tracks across sweeps, so it
 * must be stable (a queue's vhost/name, a node's name, a connection's name), never a count or a timestamp.
 */

export const FINDING_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

export interface Finding {
  /** Id of the check that produced it. */
  check: string;
  severity: FindingSeverity;
  /** Stable identity of the culprit within the check (see the module comment). */
  subject: string;
  /** One line that names the culprit and says what is wrong, e.g. "`compute_fanout_3f…` holds 1,204 messages, no consumer". */
  summary: string;
  /** Further facts an operator needs, one per line (sides of a partition, the OpenStack service and host…). */
  details?: string[];
  /** Machine-readable facts for workflows and tests (queue vhost/name, connection name, node). */
  data?: Record<string, unknown>;
}

const RANK: Record<FindingSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** The most severe of several severities; `info` for none. */
export function worstSeverity(severities: Iterable<FindingSeverity>): FindingSeverity {
  let worst: FindingSeverity = 'info';
  for (const s of severities) if (RANK[s] < RANK[worst]) worst = s;
  return worst;
}

export function compareSeverity(a: FindingSeverity, b: FindingSeverity): number {
  return RANK[a] - RANK[b];
}
