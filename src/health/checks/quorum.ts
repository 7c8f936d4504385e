/**
 * Quorum queues without quorum (runbook 1.5): a quorum queue with half its members or fewer online, or with no
 * leader, accepts and delivers nothing. One critical finding per such queue, plus one per node whose
 * `node-is-quorum-critical` endpoint fails (stopping it would cost some queue its quorum). RabbitMQ 3.10's cheap
 * queue listing leaves out a quorum queue whose leader was on a stopped node, so the endpoint findings are the
 * only sign of those; a listing with stats shows them without a leader.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import { criticalNodeFindings } from '../critical-node-findings.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'quorum';

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function queueName(q: QueueInfo): string {
  return nameInVhost(q.name, q.vhost);
}

function queueFinding(q: QueueInfo): Finding | undefined {
  if (q.type !== 'quorum' || q.members === undefined || q.members.length === 0) return undefined;
  const members = [...q.members].sort();
  const online = members.filter((m) => q.online?.includes(m));
  const offline = members.filter((m) => !online.includes(m));
  const lost = online.length <= members.length / 2;
  if (!lost && q.leader) return undefined;
  const count = `${formatCount(online.length)} of ${formatCount(members.length)} members online`;
  const majority = Math.floor(members.length / 2) + 1;
  return {
    check: ID,
    severity: 'critical',
    subject: queueKey(q),
    summary: lost ? `${queueName(q)} lost its quorum: ${count}` : `${queueName(q)} has no leader: ${count}`,
    details: [
      `Online: ${online.length > 0 ? code(online) : 'none'}; offline: ${offline.length > 0 ? code(offline) : 'none'}`,
      `Leader: ${q.leader ? `\`${q.leader}\`` : 'none'}`,
      `It neither accepts nor delivers messages until ${formatCount(majority)} members are online and elect a leader.`,
    ],
    data: { vhost: q.vhost, name: q.name, members, online, offline, leader: q.leader ?? null },
  };
}

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  const findings = (snapshot.queues ?? []).flatMap((q) => queueFinding(q) ?? []);
  findings.push(
    ...criticalNodeFindings(snapshot, ID, 'quorumCritical', {
      summary: (node) => `Stopping \`${node}\` would leave quorum queues without quorum`,
      advice: 'Bring the other members back before stopping or restarting it.',
    }),
  );
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const quorumCheck = defineCheck({
  id: ID,
  title: 'Quorum queues without quorum',
  hint:
    'Start the offline members’ nodes: a quorum queue needs a majority of its members online. Before stopping a ' +
    'node, check `rabbitmq-queues check_if_node_is_quorum_critical`; add members with `rabbitmq-queues grow`.',
  needs: ['queues'],
  evaluate,
});
