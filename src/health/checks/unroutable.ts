/**
 * Unroutable messages (one of RabbitMQ's own alert rules): a message published to an exchange with no matching
 * binding is dropped, or returned to the publisher when it was published as mandatory. On an OpenStack cluster a
 * return on the default exchange is the sign of a service made deaf: oslo sends an RPC reply to the caller's
 * `reply_*` queue as mandatory, and when that queue expired under a live caller the reply comes back
 * (`MessageUndeliverable` in the replier's log, instances stuck in BUILD in nova). The counters are cumulative, so
 * the check judges their increase since the last sweep: per exchange from the nodes' Prometheus plugin
 * (`rabbitmq_detailed_exchange_messages_unroutable_{dropped,returned}_total`), else the cluster's totals from
 * /api/overview (`message_stats.drop_unroutable`, `return_unroutable`), which name no exchange. Judges only.
 */

import { formatCount } from '../../chat/human-format.js';
import { inVhost } from '../../chat/vhost-text.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import { counterIncrease, counterKey } from '../drop-counters.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';
import { parseOsloQueueName } from '../oslo-queue-names.js';

const ID = 'unroutable';

interface ExchangeDrops {
  vhost: string;
  name: string;
  dropped: number;
  returned: number;
}

function exchangeIncreases(snapshot: ClusterSnapshot, context: CheckContext): ExchangeDrops[] {
  const byExchange = new Map<string, ExchangeDrops>();
  const add = (vhost: string, name: string, field: 'dropped' | 'returned', value: number) => {
    if (value === 0) return;
    const key = `${vhost}/${name}`;
    const entry = byExchange.get(key) ?? { vhost, name, dropped: 0, returned: 0 };
    entry[field] += value;
    byExchange.set(key, entry);
  };
  for (const n of snapshot.nodeCounters ?? []) {
    for (const e of n.exchangesDropped) {
      add(
        e.vhost,
        e.name,
        'dropped',
        counterIncrease(counterKey.exchangeDropped(n.node, e.vhost, e.name), e.value, context.counters),
      );
    }
    for (const e of n.exchangesReturned) {
      add(
        e.vhost,
        e.name,
        'returned',
        counterIncrease(counterKey.exchangeReturned(n.node, e.vhost, e.name), e.value, context.counters),
      );
    }
  }
  return [...byExchange.values()];
}

function counts(dropped: number, returned: number): string {
  return [dropped > 0 ? `${formatCount(dropped)} dropped` : '', returned > 0 ? `${formatCount(returned)} returned` : '']
    .filter(Boolean)
    .join(', ');
}

/** The reply queues still there, by host and process (the queue manager's names), for the deaf-caller hint. */
function replyOwners(snapshot: ClusterSnapshot): string[] {
  const owners = new Set<string>();
  for (const q of snapshot.queues ?? []) {
    const parsed = parseOsloQueueName(q.name);
    if (parsed?.kind === 'reply' && parsed.host) owners.add(`${parsed.host}:${parsed.process ?? '?'}`);
  }
  return [...owners].sort();
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  const findings: Finding[] = [];
  if (snapshot.nodeCounters) {
    for (const e of exchangeIncreases(snapshot, context)) {
      const defaultExchange = e.name === '';
      const label = `${defaultExchange ? 'the default exchange' : `exchange \`${e.name}\``}${inVhost(e.vhost)}`;
      const details = [`Vhost \`${e.vhost}\`; counted since the last sweep`];
      if (defaultExchange && e.returned > 0) {
        const owners = replyOwners(snapshot);
        details.push(
          'Returned on the default exchange: on OpenStack, RPC replies to a `reply_*` queue that no longer exists ' +
            "(expired under a live caller). The caller is deaf to RPC (`MessageUndeliverable` in the replier's log): " +
            'restart the caller whose reply queue is gone.',
          owners.length > 0
            ? `Reply queues still there (host:process): ${owners
                .slice(0, 10)
                .map((o) => `\`${o}\``)
                .join(', ')}${owners.length > 10 ? ` and ${owners.length - 10} more` : ''}`
            : 'No reply queue of the queue manager is left',
        );
      } else {
        details.push(
          'Published where no binding matches: a consumer whose queue is gone, or a publisher with a wrong routing key',
        );
      }
      findings.push({
        check: ID,
        severity: 'warning',
        subject: `exchange:${e.vhost}/${e.name}`,
        summary: `${counts(e.dropped, e.returned)} unroutable message(s) on ${label}`,
        details,
        data: { vhost: e.vhost, exchange: e.name, dropped: e.dropped, returned: e.returned },
      });
    }
    if (findings.length > 0) return findings.sort((a, b) => a.subject.localeCompare(b.subject));
  }
  const counters = snapshot.counters;
  if (!counters) return findings;
  const dropped = counterIncrease(counterKey.clusterDropped, counters.unroutableDropped, context.counters);
  const returned = counterIncrease(counterKey.clusterReturned, counters.unroutableReturned, context.counters);
  if (dropped + returned === 0) return findings;
  findings.push({
    check: ID,
    severity: 'warning',
    subject: 'cluster',
    summary: `${counts(dropped, returned)} unroutable message(s) since the last sweep`,
    details: [
      snapshot.nodeCounters
        ? 'No exchange counted them (it may have been deleted since)'
        : 'The management API names no exchange: with `clusters[].prometheus` set, the alert names it',
      ...(returned > 0
        ? ['Returned messages on OpenStack are usually RPC replies to an expired `reply_*` queue: a deaf caller']
        : []),
    ],
    data: { dropped, returned },
  });
  return findings;
}

export const unroutableCheck = defineCheck({
  id: ID,
  title: 'Unroutable messages',
  hint:
    'Messages reached an exchange with no matching binding. Returns on the default exchange are RPC replies to ' +
    'a reply queue that expired under a live service: restart that service (it is deaf to RPC), and make sure ' +
    '`rabbit_transient_queues_ttl` or the expiry policy outlasts its longest pause. Drops elsewhere: a consumer ' +
    'whose queue is gone, or a publisher with the wrong routing key.',
  needs: ['counters'],
  evaluate,
});
