/**
 * Queue leaders piled on one node (runbook 1.9): clients connected elsewhere are proxied to a queue's
 * master/leader node, so a node that leads far more than its share of queues becomes the cluster's bottleneck.
 * Counts each queue's leader over the running nodes and reports ONE info finding with the distribution when the
 * busiest node leads more than `thresholds.masterImbalance` times a fair share. Moving leaders is not its job.
 * RabbitMQ 3.10's cheap queue listing gives quorum queues no `node`, only `leader`, hence the fallback. On 4.0
 * there are no masters: a quorum queue's `node` is its leader, a stream (no node, no leader in that listing) is not
 * counted, and every classic queue is unmovable. Fix…: rebalance-quorum-leaders.
 */
import { formatCount, formatPercent } from '../../chat/human-format.js';
import { hasClassicMirroring } from '../../management/broker-version.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';

const ID = 'master-imbalance';

/** Only mirrored and quorum queues can move; an unmirrored classic queue lives where it was declared. */
function movable(q: QueueInfo): boolean {
  return q.type === 'quorum' || (q.slave_nodes !== undefined && q.slave_nodes.length > 0);
}

function evaluate(snapshot: ClusterSnapshot, { thresholds, version }: CheckContext): Finding[] {
  const running = (snapshot.nodes ?? []).filter((n) => n.running).map((n) => n.name);
  if (running.length < 2) return [];
  const led = new Map<string, QueueInfo[]>(running.map((n) => [n, []]));
  for (const q of snapshot.queues ?? []) led.get(q.node ?? q.leader ?? '')?.push(q);
  const total = [...led.values()].reduce((sum, qs) => sum + qs.length, 0);
  if (total < thresholds.masterImbalanceMinQueues) return [];

  const ranked = [...led].sort(([a, qa], [b, qb]) => qb.length - qa.length || a.localeCompare(b));
  const [busiest, queues] = ranked[0] as [string, QueueInfo[]];
  const fairShare = total / running.length;
  if (queues.length <= thresholds.masterImbalance * fairShare) return [];

  const fixed = queues.filter((q) => !movable(q)).length;
  const details = ranked.map(
    ([node, qs]) => `\`${node}\`: ${formatCount(qs.length)} (${formatPercent(qs.length, total)})`,
  );
  details.push(`Fair share: ${formatCount(Math.round(fairShare))} per running node`);
  if (fixed > 0) {
    details.push(
      `${formatCount(fixed)} of ${formatCount(queues.length)} on \`${busiest}\` are ${version && !hasClassicMirroring(version) ? 'classic' : 'unmirrored classic'} queues, ` +
        'which a rebalance cannot move',
    );
  }
  return [
    {
      check: ID,
      severity: 'info',
      subject: 'cluster',
      summary:
        `\`${busiest}\` leads ${formatCount(queues.length)} of ${formatCount(total)} queues ` +
        `(fair share ${formatCount(Math.round(fairShare))})`,
      details,
      data: {
        busiest,
        counts: Object.fromEntries(ranked.map(([node, qs]) => [node, qs.length])),
        total,
        fairShare,
        unmovable: fixed,
      },
    },
  ];
}

export const masterImbalanceCheck = defineCheck({
  id: ID,
  title: 'Queue leaders imbalanced',
  hint:
    'Spread the leaders: Fix… runs rebalance-quorum-leaders (`POST /api/rebalance/queues`, as ' +
    '`rabbitmq-queues rebalance all`), which moves quorum leaders (and mirrored masters before 4.0). Check that ' +
    'clients list every node in `rabbit_hosts`, so new queues spread out.',
  workflow: 'rebalance-quorum-leaders',
  needs: ['nodes', 'queues'],
  evaluate,
});
