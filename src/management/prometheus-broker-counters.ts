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
import type { AxiosInstance } from 'axios';
import { QueueMetricsError } from '../errors.js';
import { metricsText, prometheusHttp, readLabels } from './prometheus-queue-metrics.js';

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

interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of a Prometheus text answer whose metric is in `wanted`. */
function* samples(text: string, wanted: ReadonlySet<string>): Generator<Sample> {
  let at = 0;
  while (at < text.length) {
    let next = text.indexOf('\n', at);
    if (next < 0) next = text.length;
    const line = text.slice(at, next);
    at = next + 1;
    if (!line.startsWith('rabbitmq_')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd < 0) continue;
    const metric = line.slice(0, nameEnd);
    if (!wanted.has(metric)) continue;
    const { labels, end } = brace === nameEnd ? readLabels(line, brace + 1) : { labels: {}, end: nameEnd };
    const value = Number(line.slice(end).trim().split(' ')[0]);
    if (!Number.isFinite(value)) throw new QueueMetricsError(`unreadable sample "${line.slice(0, 200)}"`);
    yield { metric, labels, value };
  }
}

const DELIVERY_LIMIT = 'rabbitmq_global_messages_dead_lettered_delivery_limit_total';
const DROPPED = 'rabbitmq_global_messages_unroutable_dropped_total';
const RETURNED = 'rabbitmq_global_messages_unroutable_returned_total';
const IDENTITY = 'rabbitmq_identity_info';
const EXCHANGE_DROPPED = 'rabbitmq_detailed_exchange_messages_unroutable_dropped_total';
const EXCHANGE_RETURNED = 'rabbitmq_detailed_exchange_messages_unroutable_returned_total';
const REDELIVERED = 'rabbitmq_detailed_queue_messages_redelivered_total';

/** Parses one node's `/metrics` and `/metrics/detailed` answers. */
export function parseDropCounters(globalText: string, detailedText: string): NodeDropCounters & { node?: string } {
  let node: string | undefined;
  let deliveryLimitDropped = 0;
  let unroutableDropped = 0;
  let unroutableReturned = 0;
  for (const s of samples(globalText, new Set([DELIVERY_LIMIT, DROPPED, RETURNED, IDENTITY]))) {
    if (s.metric === IDENTITY) node = s.labels.rabbitmq_node ?? node;
    else if (s.metric === DELIVERY_LIMIT) {
      if (s.labels.dead_letter_strategy === 'disabled') deliveryLimitDropped += s.value;
    } else if (s.metric === DROPPED) unroutableDropped += s.value;
    else unroutableReturned += s.value;
  }
  const exchangesDropped: ObjectCounter[] = [];
  const exchangesReturned: ObjectCounter[] = [];
  const queuesRedelivered: ObjectCounter[] = [];
  for (const s of samples(detailedText, new Set([EXCHANGE_DROPPED, EXCHANGE_RETURNED, REDELIVERED, IDENTITY]))) {
    if (s.metric === IDENTITY) {
      node ??= s.labels.rabbitmq_node;
      continue;
    }
    if (s.value === 0) continue;
    const vhost = s.labels.vhost;
    const name = s.metric === REDELIVERED ? s.labels.queue : s.labels.exchange;
    if (vhost === undefined || name === undefined) continue;
    const into =
      s.metric === REDELIVERED
        ? queuesRedelivered
        : s.metric === EXCHANGE_DROPPED
          ? exchangesDropped
          : exchangesReturned;
    into.push({ vhost, name, value: s.value });
  }
  return {
    node: node as string,
    deliveryLimitDropped,
    unroutableDropped,
    unroutableReturned,
    exchangesDropped,
    exchangesReturned,
    queuesRedelivered,
  };
}

export class PrometheusDropCounters {
  private readonly http: AxiosInstance;

  constructor(
    readonly urls: readonly string[],
    options: { timeoutMs?: number } = {},
  ) {
    this.http = prometheusHttp(options.timeoutMs);
  }

  /** Every node's counters; throws when a node does not answer, since a missing node's drops would go unseen. */
  async readAll(): Promise<NodeDropCounters[]> {
    return Promise.all(this.urls.map((url) => this.read(url)));
  }

  async read(base: string): Promise<NodeDropCounters> {
    const root = base.replace(/\/$/, '');
    const [globalText, detailedText] = await Promise.all([
      metricsText(this.http, `${root}${GLOBAL_PATH}`),
      metricsText(this.http, `${root}${DETAILED_PATH}`),
    ]);
    const counters = parseDropCounters(globalText, detailedText);
    if (!counters.node) throw new QueueMetricsError(`${root} did not name its node (no rabbitmq_identity_info)`);
    return counters;
  }
}
