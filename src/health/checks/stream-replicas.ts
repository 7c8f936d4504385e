/**
 * Streams whose replicas miss running nodes. RabbitMQ places a stream's replicas when the stream is declared: a
 * node that joins later, or one that was reset and re-joined, never gets a replica of the existing streams, so the
 * stream survives fewer node losses than the cluster suggests (runbook 4; kolla-ansible's repair script runs
 * `rabbitmq-streams add_replica` for this). A member on a node that is down is not missing: node-down reports the
 * node, and the replica catches up when it starts. One warning per stream naming the nodes it misses, from the
 * stream's own stats (the `streams` part: the cheap listing has no members for streams). A stream whose stats
 * listed no members is not judged. Judges only; adding the replicas is the repair-stream-replicas workflow's.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost, vhostOption } from '../../chat/vhost-text.js';
import type { ClusterSnapshot, StreamReplicas } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'stream-replicas';

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function streamName(s: StreamReplicas): string {
  return nameInVhost(s.name, s.vhost);
}

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  const running = (snapshot.nodes ?? []).filter((n) => n.running).map((n) => n.name);
  const findings: Finding[] = [];
  for (const stream of snapshot.streams ?? []) {
    if (!stream.members || stream.members.length === 0) continue;
    const members = stream.members;
    const missing = running.filter((node) => !members.includes(node)).sort();
    if (missing.length === 0) continue;
    const n = missing.length;
    findings.push({
      check: ID,
      severity: 'warning',
      subject: queueKey(stream),
      summary: `Stream ${streamName(stream)} has no replica on ${code(missing)}`,
      details: [
        `Replicas on ${code([...members].sort())} (${formatCount(members.length)} of ${formatCount(running.length)} running nodes)` +
          (stream.leader ? `, leader \`${stream.leader}\`` : ''),
        `${n === 1 ? 'That node' : 'Those nodes'} joined, or were reset and re-joined, after the stream was declared: ` +
          'RabbitMQ places replicas only then, so the stream survives fewer node losses than the cluster has nodes',
        ...missing.map(
          (node) => `By hand: \`rabbitmq-streams add_replica ${vhostOption(stream.vhost)}${stream.name} ${node}\``,
        ),
      ],
      data: {
        vhost: stream.vhost,
        name: stream.name,
        missing,
        members: [...members].sort(),
        leader: stream.leader ?? null,
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const streamReplicasCheck = defineCheck({
  id: ID,
  title: 'Streams missing replicas',
  hint:
    'Add the missing replica on each node named (Fix…, or `rabbitmq-streams add_replica [-p VHOST] STREAM NODE`): ' +
    'a node that joined or was reset after a stream was declared never gets one by itself.',
  workflow: 'repair-stream-replicas',
  needs: ['nodes', 'streams'],
  evaluate,
});
