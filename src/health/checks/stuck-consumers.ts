/**
 * Stuck consumers: a queue with consumers whose unacknowledged count is above `thresholds.stuckUnacked` and rose on
 * each of the last `thresholds.growthSweeps` sweeps. Its consumers take deliveries but do not ack them (a hung
 * worker, a deadlock, a consumer far slower than its prefetch lets in), so messages are pinned to them while the
 * queue looks drained. One warning per queue. A large unacked count that holds steady is a busy consumer with a big
 * prefetch, not a stuck one, hence the growth test. Streams are left out: a stream consumer acks what it read, but
 * the stream keeps it, so its counts say nothing about the consumer (see backlog). Judges only; finding the process behind the consumer and
 * restarting it is the operator's.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext, QueueSample } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { roseOnEachSweep, trendText } from './backlog.js';

const ID = 'stuck-consumers';

const unacked = (s: QueueSample) => s.unacked;

function queueName(q: QueueInfo): string {
  return nameInVhost(q.name, q.vhost);
}

function evaluate(snapshot: ClusterSnapshot, { thresholds, history }: CheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const q of snapshot.queues ?? []) {
    if (q.consumers === 0 || q.messages_unacknowledged <= thresholds.stuckUnacked || q.type === 'stream') continue;
    const key = queueKey(q);
    const samples = history.get(key);
    if (!samples || !roseOnEachSweep(samples, q.messages_unacknowledged, thresholds.growthSweeps, unacked)) continue;
    const consumers = `${formatCount(q.consumers)} consumer${q.consumers === 1 ? '' : 's'}`;
    findings.push({
      check: ID,
      severity: 'warning',
      subject: key,
      summary:
        `${queueName(q)} has ${formatCount(q.messages_unacknowledged)} unacknowledged messages and rising, ` +
        `held by ${consumers}`,
      details: [
        `Unacknowledged over the last sweeps: ${trendText(samples, q.messages_unacknowledged, thresholds.growthSweeps, unacked)}`,
        `${formatCount(q.messages_ready)} ready`,
        'Its consumers take messages without acking them: find them in `/api/consumers` (channel → connection → ' +
          'service) and restart that service; its unacked messages go back to the queue',
      ],
      data: {
        vhost: q.vhost,
        name: q.name,
        consumers: q.consumers,
        unacked: q.messages_unacknowledged,
        ready: q.messages_ready,
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const stuckConsumersCheck = defineCheck({
  id: ID,
  title: 'Stuck consumers',
  hint:
    'Find the consumers of the queue (`rabbitmqctl list_consumers`, or the queue page: channel → connection → ' +
    'OpenStack service) and restart that service; the messages it holds unacked are redelivered. A prefetch limit ' +
    "(oslo's `rabbit_qos_prefetch_count`) bounds how many one consumer can pin.",
  needs: ['queues'],
  evaluate,
});
