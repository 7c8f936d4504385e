/**
 * Quorum queue members on nodes that left the cluster (RUNBOOK 4): a member naming a node that /api/nodes does not
 * list at all, left by a node that was forgotten without its members being shrunk, or renamed. Such a member never
 * comes back, yet it counts in the queue's quorum: a 3-member queue with one forgotten member loses its quorum with
 * the next node down. One warning finding per forgotten node. Fix…: shrink-forgotten-members (two approvers).
 */
import { formatCount } from '../../chat/human-format.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';
import { membershipGaps } from '../quorum-membership.js';
import { gapData, gapDetails } from './quorum-members.js';

const ID = 'quorum-forgotten-members';

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  return membershipGaps(snapshot.nodes ?? [], snapshot.queues ?? [])
    .filter((group) => group.gap === 'forgotten')
    .map((group) => ({
      check: ID,
      severity: 'warning' as const,
      subject: `forgotten:${group.node}`,
      summary: `${formatCount(group.queues.length)} quorum queue(s) have a member on \`${group.node}\`, which is not in the cluster`,
      details: gapDetails(
        group,
        'The node was forgotten or renamed: its member never comes back but still counts towards the quorum.',
      ),
      data: gapData(group),
    }))
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

export const quorumForgottenMembersCheck = defineCheck({
  id: ID,
  title: 'Quorum members on nodes outside the cluster',
  hint:
    'Remove the members with `rabbitmq-queues shrink NODE` or `delete_member` (Fix… runs shrink-forgotten-members, ' +
    'after checking that the node really is gone). If the node was only renamed, rename it back instead.',
  workflow: 'shrink-forgotten-members',
  needs: ['nodes', 'queues'],
  evaluate,
});
