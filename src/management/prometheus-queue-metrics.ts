/**
 * Every queue's depth and consumer count read from RabbitMQ's Prometheus plugin (`/metrics/detailed`, 3.10 and
 * later), one request per node.
 *
 * Why: the management API's cheap queue listing has no depths, and asking for them (`enable_queue_totals`) makes
 * the broker ask every queue process in turn — the work `rabbitmqctl list_queues` does, seconds at 30,000 queues.
 * The plugin answers from the metrics tables the queues already write every stats interval (5 s by default), on
 * each node for the queues it hosts (a quorum queue on its leader's node), so the nodes share the work and no
 * queue process is woken. The price is that figures can be one stats interval old, which a 30 s sweep tolerates;
 * remediation guards re-read the one queue they act on from the management API.
 */
import { QueueMetricsError } from '../errors.js';
import type { PrometheusEndpoints } from './prometheus-endpoints.js';
import { linesOf, sampleOf } from './prometheus-text.js';

/** What the sweep needs of a queue that the cheap listing leaves out. */
export interface QueueDepth {
  messages: number;
  messages_ready: number;
  messages_unacknowledged: number;
  consumers: number;
}

/** Depths by vhost, then queue name. */
export type QueueDepths = Map<string, Map<string, QueueDepth>>;

/** One node's answer: which node it is (from `rabbitmq_identity_info`) and the queues it hosts. */
export interface NodeQueueMetrics {
  url: string;
  node: string;
  queues: QueueDepths;
}

// identity_info names the node that answered, which the caller needs to know whose queues these are.
const PATH = '/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&family=identity_info';

const FIELD_OF_METRIC: Record<string, keyof QueueDepth> = {
  rabbitmq_detailed_queue_messages: 'messages',
  rabbitmq_detailed_queue_messages_ready: 'messages_ready',
  rabbitmq_detailed_queue_messages_unacked: 'messages_unacknowledged',
  rabbitmq_detailed_queue_consumers: 'consumers',
};

const IDENTITY = 'rabbitmq_identity_info';
const WANTED: ReadonlySet<string> = new Set([...Object.keys(FIELD_OF_METRIC), IDENTITY]);

/** Gathers one node's depths from the lines of its `/metrics/detailed` answer, as they come. */
export class QueueMetricsReader {
  node: string | undefined;
  readonly queues: QueueDepths = new Map();

  line(line: string): void {
    const sample = sampleOf(line, WANTED);
    if (!sample) return;
    const field = FIELD_OF_METRIC[sample.metric];
    if (!field) {
      this.node = sample.labels.rabbitmq_node ?? this.node;
      return;
    }
    const { vhost, queue: name } = sample.labels;
    if (vhost === undefined || name === undefined) {
      throw new QueueMetricsError(`unreadable sample "${line.slice(0, 200)}"`);
    }
    let inVhost = this.queues.get(vhost);
    if (!inVhost) {
      inVhost = new Map();
      this.queues.set(vhost, inVhost);
    }
    let depth = inVhost.get(name);
    if (!depth) {
      depth = { messages: 0, messages_ready: 0, messages_unacknowledged: 0, consumers: 0 };
      inVhost.set(name, depth);
    }
    depth[field] = sample.value;
  }
}

/** Parses a whole `/metrics/detailed` answer (Prometheus text format) into the node's name and its queues' depths. */
export function parseQueueMetrics(text: string): { node: string | undefined; queues: QueueDepths } {
  const reader = new QueueMetricsReader();
  for (const line of linesOf(text)) reader.line(line);
  return { node: reader.node, queues: reader.queues };
}

export class PrometheusQueueMetrics {
  constructor(readonly endpoints: PrometheusEndpoints) {}

  /** Every node's answer, asked at the same time, and why each node that did not answer failed. */
  async readAll(): Promise<{ answers: NodeQueueMetrics[]; failures: string[] }> {
    const settled = await Promise.allSettled(this.endpoints.urls.map((url) => this.read(url)));
    const answers: NodeQueueMetrics[] = [];
    const failures: string[] = [];
    for (const result of settled) {
      if (result.status === 'fulfilled') answers.push(result.value);
      else failures.push(result.reason instanceof Error ? result.reason.message : String(result.reason));
    }
    return { answers, failures };
  }

  async read(base: string): Promise<NodeQueueMetrics> {
    const url = this.endpoints.url(base, PATH);
    const reader = new QueueMetricsReader();
    await this.endpoints.lines(url, (line) => reader.line(line));
    const { node, queues } = reader;
    if (!node) throw new QueueMetricsError(`${url} did not name its node (no rabbitmq_identity_info)`);
    return { url: base, node, queues };
  }
}
