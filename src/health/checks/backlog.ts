/**
 * Message backlogs (runbook 1.3): a queue whose ready count is above `thresholds.backlogMessages` (the runbook's
 * 500), or whose ready count rose on each of the last `thresholds.growthSweeps` sweeps whatever its size. One
 * warning per queue. oslo's `notifications.<priority>` queues with no consumer get their own wording: nothing
 * reads notifications there (no Ceilometer, say), so they grow forever, and the remedies are to consume them, to
 * set the notifier's driver to `noop`, or to bound them with a `max-length`/`message-ttl` policy (the apply-policy
 * workflow). Fanout and reply queues without a consumer are left to the zombie-queues check, which reports them
 * (or knows they expire by themselves); a queue with nothing ready is never a backlog, however it got there.
 * Streams are never judged: what a stream holds is retained data that each consumer reads from its own offset,
 * not unconsumed work (oslo's `<topic>_fanout` stream keeps every cast for `x-max-age`), and RabbitMQ 4.0 exposes
 * no AMQP 0-9-1 consumer's offset to judge lag from (docs/checks.md, stream-retention).
 * Judges only; it neither purges nor restarts anything.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext, QueueSample } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { parseOsloQueueName } from '../oslo-queue-names.js';

const ID = 'backlog';

/**
 * Whether a depth rose on each of the last `sweeps` sweeps: the last `sweeps` samples and the current value
 * strictly increasing. Needs that many earlier samples; the history keeps exactly `growthSweeps` of them, and a
 * queue that emptied drops out of it, so the samples are consecutive sweeps.
 */
export function roseOnEachSweep(
  samples: readonly QueueSample[] | undefined,
  current: number,
  sweeps: number,
  depth: (sample: QueueSample) => number,
): boolean {
  if (!samples || samples.length < sweeps) return false;
  let later = current;
  for (let i = samples.length - 1; i >= samples.length - sweeps; i--) {
    const earlier = depth(samples[i] as QueueSample);
    if (!(earlier < later)) return false;
    later = earlier;
  }
  return true;
}

/** The last `sweeps` samples and the current value, e.g. "40 → 90 → 140 → 190". */
export function trendText(
  samples: readonly QueueSample[],
  current: number,
  sweeps: number,
  depth: (sample: QueueSample) => number,
): string {
  return [...samples.slice(-sweeps).map(depth), current].map(formatCount).join(' → ');
}

function queueName(q: QueueInfo): string {
  return nameInVhost(q.name, q.vhost);
}

const ready = (s: QueueSample) => s.ready;

function evaluate(snapshot: ClusterSnapshot, { thresholds, history }: CheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const q of snapshot.queues ?? []) {
    if (q.messages_ready === 0 || q.type === 'stream') continue;
    const key = queueKey(q);
    const samples = history.get(key);
    const large = q.messages_ready > thresholds.backlogMessages;
    const growing = roseOnEachSweep(samples, q.messages_ready, thresholds.growthSweeps, ready);
    if (!large && !growing) continue;
    // Names are parsed only for the few queues that qualify, not for every queue of a large cluster.
    const oslo = parseOsloQueueName(q.name);
    if ((oslo?.kind === 'fanout' || oslo?.kind === 'reply') && q.consumers === 0) continue;

    const count = `${formatCount(q.messages_ready)} ready message${q.messages_ready === 1 ? '' : 's'}`;
    const rising = growing ? ' and rising' : '';
    const unread = oslo?.kind === 'notifications' && q.consumers === 0;
    const details: string[] = [];
    let summary: string;
    if (unread) {
      summary = `Notification queue ${queueName(q)} holds ${count}${rising} and nothing consumes it`;
      details.push(
        `oslo notifiers publish \`${oslo.topic}.*\` whether or not anyone listens, and the queue has no TTL, so it grows forever`,
        'Either consume it (e.g. Ceilometer), set `[oslo_messaging_notifications] driver = noop` in the services that ' +
          'emit it, or bound it with a `max-length` or `message-ttl` policy (Fix…)',
      );
    } else {
      const consumers =
        q.consumers === 0 ? 'no consumer' : `${formatCount(q.consumers)} consumer${q.consumers === 1 ? '' : 's'}`;
      summary = `${queueName(q)} holds ${count}${rising}, ${consumers}`;
      details.push(
        q.consumers === 0
          ? 'Nothing consumes it: start or restart the component that reads it'
          : 'Its consumers are not keeping up or are hung: restart the component that reads it',
      );
    }
    if (growing && samples) {
      details.push(
        `Ready over the last sweeps: ${trendText(samples, q.messages_ready, thresholds.growthSweeps, ready)}`,
      );
    }
    if (q.messages_unacknowledged > 0)
      details.push(`${formatCount(q.messages_unacknowledged)} more are unacknowledged`);
    findings.push({
      check: ID,
      severity: 'warning',
      subject: key,
      summary,
      details,
      data: {
        vhost: q.vhost,
        name: q.name,
        ready: q.messages_ready,
        unacked: q.messages_unacknowledged,
        consumers: q.consumers,
        growing,
        notifications: unread,
        ...(unread ? { policyPattern: `^${oslo.topic}\\.` } : {}),
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const backlogCheck = defineCheck({
  id: ID,
  title: 'Message backlog',
  hint:
    'First check that it is not a zombie queue; otherwise restart the component that consumes it. For ' +
    '`notifications.*` queues nobody reads: consume them, set the notification driver to `noop`, or add a ' +
    '`max-length`/`message-ttl` policy (Fix…).',
  workflow: 'apply-policy',
  needs: ['queues'],
  evaluate,
});
