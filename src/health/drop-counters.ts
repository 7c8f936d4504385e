/**
 * The broker's cumulative counters of thrown-away messages as a sweep reads them (`BrokerCounters`), and what a
 * check needs to judge them: a counter says how many since the node started, so a check judges its increase since
 * the previous sweep. The previous sweep's values are kept per cluster in Redis (`CounterStore`, like the queue
 * history) and handed to the checks in their context, so checks stay pure. A value is keyed per node where it is
 * counted per node: a node that restarts starts from zero, which is read as a reset, not as a decrease.
 */
import type { Redis } from 'ioredis';
import type { NodeDropCounters } from '../management/prometheus-broker-counters.js';

/** The cluster's unroutable messages, from /api/overview's `message_stats` (the management API's own totals). */
export interface BrokerCounters {
  unroutableDropped: number;
  unroutableReturned: number;
}

/** The previous sweep's counter values (see counterValues), or none yet. */
export interface PreviousCounters {
  at: number;
  values: Readonly<Record<string, number>>;
}

export const counterKey = {
  clusterDropped: 'cluster:unroutable-dropped',
  clusterReturned: 'cluster:unroutable-returned',
  deliveryLimit: (node: string) => `node:${node}:delivery-limit-dropped`,
  exchangeDropped: (node: string, vhost: string, name: string) => `exchange-dropped:${node}:${vhost}/${name}`,
  exchangeReturned: (node: string, vhost: string, name: string) => `exchange-returned:${node}:${vhost}/${name}`,
  redelivered: (node: string, vhost: string, name: string) => `redelivered:${node}:${vhost}/${name}`,
};

/** Every counter as one flat record, zeros left out (an absent key reads as 0). */
export function counterValues(
  counters: BrokerCounters,
  nodes: readonly NodeDropCounters[] = [],
): Record<string, number> {
  const values: Record<string, number> = {};
  const put = (key: string, value: number) => {
    if (value !== 0) values[key] = value;
  };
  put(counterKey.clusterDropped, counters.unroutableDropped);
  put(counterKey.clusterReturned, counters.unroutableReturned);
  for (const n of nodes) {
    put(counterKey.deliveryLimit(n.node), n.deliveryLimitDropped);
    for (const e of n.exchangesDropped) put(counterKey.exchangeDropped(n.node, e.vhost, e.name), e.value);
    for (const e of n.exchangesReturned) put(counterKey.exchangeReturned(n.node, e.vhost, e.name), e.value);
    for (const q of n.queuesRedelivered) put(counterKey.redelivered(n.node, q.vhost, q.name), q.value);
  }
  return values;
}

/**
 * How much a counter rose since the previous sweep; 0 on the first sweep (a cumulative count says nothing about
 * now). A per-node counter that went down was reset by a restart: all it counts now is new. A cluster-wide sum that
 * went down lost a node's share: only a rise above the previous sum is new.
 */
export function counterIncrease(key: string, current: number, previous: PreviousCounters | undefined): number {
  if (!previous) return 0;
  const before = previous.values[key] ?? 0;
  if (current >= before) return current - before;
  return key.startsWith('cluster:') ? 0 : current;
}

/** The previous sweep's counters per cluster, in Redis beside the queue history. */
export class CounterStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async previous(cluster: string): Promise<PreviousCounters | undefined> {
    const json = await this.redis.get(`${this.prefix}counters:${cluster}`);
    return json ? (JSON.parse(json) as PreviousCounters) : undefined;
  }

  async save(
    cluster: string,
    at: number,
    counters: BrokerCounters,
    nodes?: readonly NodeDropCounters[],
  ): Promise<void> {
    const sample: PreviousCounters = { at, values: counterValues(counters, nodes) };
    await this.redis.set(`${this.prefix}counters:${cluster}`, JSON.stringify(sample), 'EX', 24 * 3600);
  }
}
