/**
 * Classic mirrored queues out of sync (runbook 1.5): mirrors in `slave_nodes` but not in
 * `synchronised_slave_nodes` miss the messages published before they joined, so losing the master loses those.
 * One warning per queue, critical when no mirror is synchronised and the queue holds messages (the master's copy
 * is the only one), plus one critical per node whose `node-is-mirror-sync-critical` endpoint fails: stopping that
 * node loses the last synchronised copy. Judges only; syncing (which blocks the queue) is the sync-mirrors
 * workflow's. Empty queues are left out: a mirror of an empty queue has nothing to miss, and RabbitMQ 3.10's
 * cheap queue listing was seen reporting stale mirror sets for them. RabbitMQ 4.0 removed classic mirroring: there
 * the check does not apply (quorum and stream replication are other checks').
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import { hasClassicMirroring } from '../../management/broker-version.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import { criticalNodeFindings } from '../critical-node-findings.js';
import { compareSeverity, type Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'mirror-sync';

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function queueName(q: QueueInfo): string {
  return nameInVhost(q.name, q.vhost);
}

function messagesText(n: number): string {
  return `${formatCount(n)} message${n === 1 ? '' : 's'}`;
}

function queueFinding(q: QueueInfo): Finding | undefined {
  const mirrors = q.slave_nodes ?? [];
  const synced = q.synchronised_slave_nodes ?? [];
  const unsynced = mirrors.filter((m) => !synced.includes(m)).sort();
  if (unsynced.length === 0 || q.messages === 0) return undefined;
  const master = q.node ? `\`${q.node}\`` : 'the master';
  const critical = synced.length === 0;
  const summary = critical
    ? `${queueName(q)} holds ${messagesText(q.messages)} with no synchronised mirror: only ${master} has them`
    : `${queueName(q)} holds ${messagesText(q.messages)}; mirror${unsynced.length === 1 ? '' : 's'} ` +
      `${code(unsynced)} not synchronised`;
  return {
    check: ID,
    severity: critical ? 'critical' : 'warning',
    subject: queueKey(q),
    summary,
    details: [
      `Master ${master}; synchronised: ${synced.length > 0 ? code([...synced].sort()) : 'none'}; not synchronised: ${code(unsynced)}`,
      ...(q.policy ? [`Policy \`${q.policy}\``] : []),
      'Syncing blocks the queue until it completes; until then, losing the master loses the messages only it holds.',
    ],
    data: {
      vhost: q.vhost,
      name: q.name,
      node: q.node ?? null,
      messages: q.messages,
      synchronised: [...synced].sort(),
      unsynchronised: unsynced,
      policy: q.policy ?? null,
    },
  };
}

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  const findings = (snapshot.queues ?? []).flatMap((q) => queueFinding(q) ?? []);
  findings.push(
    ...criticalNodeFindings(snapshot, ID, 'mirrorSyncCritical', {
      summary: (node) => `Stopping \`${node}\` would lose the last synchronised copy of classic mirrored queues`,
      advice: 'Do not stop or restart it until those queues have a synchronised mirror on another node.',
    }),
  );
  return findings.sort((a, b) => compareSeverity(a.severity, b.severity) || a.subject.localeCompare(b.subject));
}

export const mirrorSyncCheck = defineCheck({
  id: ID,
  title: 'Unsynchronised mirrors',
  hint:
    'Sync the queue (`rabbitmqctl sync_queue -p VHOST NAME`, or Fix…): it blocks the queue while it runs, so ' +
    'pick a quiet moment; a larger `ha-sync-batch-size` syncs faster. Or let consumers drain the old messages. ' +
    'Do not stop a node that holds the last synchronised copy.',
  workflow: 'sync-mirrors',
  needs: ['queues'],
  appliesTo: hasClassicMirroring,
  evaluate,
});
