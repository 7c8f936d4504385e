/**
 * The broker's cumulative counters of messages it threw away, read from each node's Prometheus plugin: what the
 * management API does not tell (or tells only for the whole cluster). Verified on RabbitMQ 4.0.5:
 * - a quorum queue dropping a message past its delivery limit (4.0's default is 20) counts it only in the global
 *   `rabbitmq_global_messages_dead_lettered_delivery_limit_total{queue_type="rabbit_quorum_queue",
 *   dead_letter_strategy="disabled"}` of the node that leads the queue (with a DLX the strategy is `at_most_once` or
 *   `at_least_once`, and the message is not lost). No per-queue drop counter exists; the queue's own
 *   `rabbitmq_detailed_queue_messages_redelivered_total` (family `queue_delivery_metrics`) shows which queue is
 *   redelivering;
 * - unroutable messages are counted globally (`rabbitmq_global_messages_unroutable_{dropped,returned}_total`) and
 *   per exchange (`rabbitmq_detailed_exchange_messages_unroutable_{dropped,returned}_total`, family
 *   `exchange_metrics`) on the node of the publishing channel.
 * Two requests per node: `/metrics` for the global counters (aggregated: its size does not grow with queues) and
 * `/metrics/detailed` for the per-exchange and per-queue ones. Reads only; judging increases is the checks'.
 */
import { QueueMetricsError } from '../errors.js';
import type { PrometheusEndpoints } from './prometheus-endpoints.js';
import { linesOf, sampleOf } from './prometheus-text.js';

/** Counters of one vhost's exchange or queue. */
export interface ObjectCounter {
  vhost: string;
  name: string;
  value: number;
}

/** One node's cumulative counters since it started. */
export interface NodeDropCounters {
  node: string;
  /** Messages a quorum queue led here dropped past its delivery limit with no dead-letter exchange. */
  deliveryLimitDropped: number;
  unroutableDropped: number;
  unroutableReturned: number;
  /** Per exchange, only those with a non-zero count (publishing channels on this node). */
  exchangesDropped: ObjectCounter[];
  exchangesReturned: ObjectCounter[];
  /** Per queue hosted here, only those with a non-zero count. */
  queuesRedelivered: ObjectCounter[];
}

const GLOBAL_PATH = '/metrics';
const DETAILED_PATH = '/metrics/detailed?family=exchange_metrics&family=queue_delivery_metrics&family=identity_info';

const DELIVERY_LIMIT = 'rabbitmq_global_messages_dead_lettered_delivery_limit_total';
const DROPPED = 'rabbitmq_global_messages_unroutable_dropped_total';
const RETURNED = 'rabbitmq_global_messages_unroutable_returned_total';
const IDENTITY = 'rabbitmq_identity_info';
const EXCHANGE_DROPPED = 'rabbitmq_detailed_exchange_messages_unroutable_dropped_total';
const EXCHANGE_RETURNED = 'rabbitmq_detailed_exchange_messages_unroutable_returned_total';
const REDELIVERED = 'rabbitmq_detailed_queue_messages_redelivered_total';

const GLOBAL_WANTED: ReadonlySet<string> = new Set([DELIVERY_LIMIT, DROPPED, RETURNED, IDENTITY]);
const DETAILED_WANTED: ReadonlySet<string> = new Set([EXCHANGE_DROPPED, EXCHANGE_RETURNED, REDELIVERED, IDENTITY]);

/** Gathers one node's counters from the lines of its `/metrics` and `/metrics/detailed` answers, as they come. */
export class DropCountersReader {
  node: string | undefined;
  private readonly counters: Omit<NodeDropCounters, 'node'> = {
    deliveryLimitDropped: 0,
    unroutableDropped: 0,
    unroutableReturned: 0,
    exchangesDropped: [],
    exchangesReturned: [],
    queuesRedelivered: [],
  };

  globalLine(line: string): void {
    const s = sampleOf(line, GLOBAL_WANTED);
    if (!s) return;
    const c = this.counters;
    if (s.metric === IDENTITY) this.node = s.labels.rabbitmq_node ?? this.node;
    else if (s.metric === DELIVERY_LIMIT) {
      if (s.labels.dead_letter_strategy === 'disabled') c.deliveryLimitDropped += s.value;
    } else if (s.metric === DROPPED) c.unroutableDropped += s.value;
    else c.unroutableReturned += s.value;
  }

  detailedLine(line: string): void {
    const s = sampleOf(line, DETAILED_WANTED);
    if (!s) return;
    if (s.metric === IDENTITY) {
      this.node ??= s.labels.rabbitmq_node;
      return;
    }
    if (s.value === 0) return;
    const vhost = s.labels.vhost;
    const name = s.metric === REDELIVERED ? s.labels.queue : s.labels.exchange;
    if (vhost === undefined || name === undefined) return;
    const c = this.counters;
    const into =
      s.metric === REDELIVERED
        ? c.queuesRedelivered
        : s.metric === EXCHANGE_DROPPED
          ? c.exchangesDropped
          : c.exchangesReturned;
    into.push({ vhost, name, value: s.value });
  }

  result(): NodeDropCounters & { node?: string } {
    return { node: this.node as string, ...this.counters };
  }
}

/** Parses one node's whole `/metrics` and `/metrics/detailed` answers. */
export function parseDropCounters(globalText: string, detailedText: string): NodeDropCounters & { node?: string } {
  const reader = new DropCountersReader();
  for (const line of linesOf(globalText)) reader.globalLine(line);
  for (const line of linesOf(detailedText)) reader.detailedLine(line);
  return reader.result();
}

export class PrometheusDropCounters {
  constructor(readonly endpoints: PrometheusEndpoints) {}

  /** Every node's counters; throws when a node does not answer, since a missing node's drops would go unseen. */
  async readAll(): Promise<NodeDropCounters[]> {
    return Promise.all(this.endpoints.urls.map((url) => this.read(url)));
  }

  async read(base: string): Promise<NodeDropCounters> {
    const { endpoints } = this;
    const reader = new DropCountersReader();
    await Promise.all([
      endpoints.lines(endpoints.url(base, GLOBAL_PATH), (line) => reader.globalLine(line)),
      endpoints.lines(endpoints.url(base, DETAILED_PATH), (line) => reader.detailedLine(line)),
    ]);
    const counters = reader.result();
    if (!counters.node) {
      throw new QueueMetricsError(`${endpoints.url(base, '')} did not name its node (no rabbitmq_identity_info)`);
    }
    return counters;
  }
}
