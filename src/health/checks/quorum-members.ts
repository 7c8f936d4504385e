/**
 * Under-replicated quorum queues (RUNBOOK 4): a quorum queue with fewer members than the cluster has running nodes
 * (or than `thresholds.quorumTargetSize`), or with a member offline, survives one node fewer than its operator
 * thinks. One warning finding per node and kind ("37 queues have no member on rabbit-3", the usual trace of a node
 * that was reset or added after the queues were declared; "12 queues have their member on rabbit-2 offline"), each
 * counting RPC and notification queues apart and naming the OpenStack services, with the first queues in full.
 * A member offline for longer than the alert's `for` is what fires. Lost quorum is the `quorum` check's, members
 * on nodes outside the cluster are `quorum-forgotten-members`'. Fix…: grow-quorum-queues on the node.
 */

import { formatCount } from '../../chat/human-format.js';
import { inVhost } from '../../chat/vhost-text.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { expectedMembers, type GapQueue, membershipGaps, type NodeGap, trafficSummary } from '../quorum-membership.js';

const ID = 'quorum-members';
/** Queues named in full per finding; the rest are counted. */
const SHOWN = 10;

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** One queue's line: its name, traffic, members and leader. */
export function gapQueueLine(q: GapQueue): string {
  const traffic =
    q.traffic === 'other'
      ? ''
      : ` (${q.service ? `${q.service} ` : ''}${q.traffic === 'rpc' ? 'RPC' : 'notifications'})`;
  return `\`${q.name}\`${inVhost(q.vhost)}${traffic}: members ${code(q.members)}; leader ${q.leader ? `\`${q.leader}\`` : 'none'}`;
}

export function gapDetails(group: NodeGap, cause: string): string[] {
  const details = [`${trafficSummary(group.queues).line}. ${cause}`];
  details.push(...group.queues.slice(0, SHOWN).map(gapQueueLine));
  if (group.queues.length > SHOWN) details.push(`…and ${formatCount(group.queues.length - SHOWN)} more`);
  return details;
}

export function gapData(group: NodeGap): Record<string, unknown> {
  const { rpc, notifications, other, services } = trafficSummary(group.queues);
  return {
    gap: group.gap,
    node: group.node ?? null,
    queueCount: group.queues.length,
    rpc,
    notifications,
    other,
    services,
    // The first queues only: the workflows re-read the cluster, and an alert's state stays small.
    queues: group.queues.slice(0, 50).map((q) => ({ vhost: q.vhost, name: q.name })),
  };
}

function finding(group: NodeGap, expected: number): Finding | undefined {
  const n = formatCount(group.queues.length);
  const node = `\`${group.node}\``;
  switch (group.gap) {
    case 'missing':
      return {
        check: ID,
        severity: 'warning',
        subject: `missing:${group.node}`,
        summary: `${n} quorum queue(s) have no member on ${node}`,
        details: gapDetails(
          group,
          'Usually the node was reset or joined after the queues were declared: nothing adds members by itself.',
        ),
        data: gapData(group),
      };
    case 'offline':
      return {
        check: ID,
        severity: 'warning',
        subject: `offline:${group.node}`,
        summary: `${n} quorum queue(s) have their member on ${node} offline`,
        details: gapDetails(group, 'Each survives one node fewer until the member is back.'),
        data: gapData(group),
      };
    case 'below-target':
      return {
        check: ID,
        severity: 'warning',
        subject: 'below-target',
        summary: `${n} quorum queue(s) have fewer than ${formatCount(expected)} members (the target size)`,
        details: gapDetails(group, 'Add members on running nodes that have none.'),
        data: gapData(group),
      };
    default:
      return undefined;
  }
}

function evaluate(snapshot: ClusterSnapshot, { thresholds }: CheckContext): Finding[] {
  const nodes = snapshot.nodes ?? [];
  const expected = expectedMembers(nodes.filter((n) => n.running).length, thresholds.quorumTargetSize);
  return membershipGaps(nodes, snapshot.queues ?? [], thresholds.quorumTargetSize)
    .flatMap((group) => finding(group, expected) ?? [])
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

export const quorumMembersCheck = defineCheck({
  id: ID,
  title: 'Under-replicated quorum queues',
  hint:
    'A missing member is added with `rabbitmq-queues add_member` or `grow NODE all` (Fix… runs grow-quorum-queues ' +
    'on the node, in batches). An offline member comes back with its node: start it.',
  workflow: 'grow-quorum-queues',
  needs: ['nodes', 'queues'],
  evaluate,
});
