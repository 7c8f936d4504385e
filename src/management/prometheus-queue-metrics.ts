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
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { QueueMetricsError } from '../errors.js';

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

/**
 * Reads one sample line's labels (`{a="x",b="y\"z"}`) from `start` (just after the `{`); returns them and the
 * index after the closing `}`. Label values escape `\`, `"` and newlines, and queue names may hold any of them.
 */
export function readLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('="', i);
    if (eq < 0) throw new QueueMetricsError(`unreadable labels in "${line.slice(0, 200)}"`);
    const name = line.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j++;
        value += line[j] === 'n' ? '\n' : line[j];
      } else {
        value += line[j];
      }
    }
    if (j >= line.length) throw new QueueMetricsError(`unterminated label value in "${line.slice(0, 200)}"`);
    labels[name] = value;
    i = line[j + 1] === ',' ? j + 2 : j + 1;
  }
  if (i >= line.length) throw new QueueMetricsError(`unterminated labels in "${line.slice(0, 200)}"`);
  return { labels, end: i + 1 };
}

/** Parses a `/metrics/detailed` answer (Prometheus text format) into the node's name and its queues' depths. */
export function parseQueueMetrics(text: string): { node: string | undefined; queues: QueueDepths } {
  const queues: QueueDepths = new Map();
  let node: string | undefined;
  let at = 0;
  while (at < text.length) {
    let next = text.indexOf('\n', at);
    if (next < 0) next = text.length;
    const line = text.slice(at, next);
    at = next + 1;
    if (!line.startsWith('rabbitmq_')) continue;
    const brace = line.indexOf('{');
    if (brace < 0) continue;
    const metric = line.slice(0, brace);
    const field = FIELD_OF_METRIC[metric];
    if (!field && metric !== 'rabbitmq_identity_info') continue;
    const { labels, end } = readLabels(line, brace + 1);
    if (!field) {
      node = labels.rabbitmq_node ?? node;
      continue;
    }
    const vhost = labels.vhost;
    const name = labels.queue;
    // A sample may carry a timestamp after its value.
    const value = Number(line.slice(end).trim().split(' ')[0]);
    if (vhost === undefined || name === undefined || !Number.isFinite(value)) {
      throw new QueueMetricsError(`unreadable sample "${line.slice(0, 200)}"`);
    }
    let inVhost = queues.get(vhost);
    if (!inVhost) {
      inVhost = new Map();
      queues.set(vhost, inVhost);
    }
    let depth = inVhost.get(name);
    if (!depth) {
      depth = { messages: 0, messages_ready: 0, messages_unacknowledged: 0, consumers: 0 };
      inVhost.set(name, depth);
    }
    depth[field] = value;
  }
  return { node, queues };
}

/** The HTTP client for a node's Prometheus plugin: text answers, statuses judged by the caller. */
export function prometheusHttp(timeoutMs = 30_000): AxiosInstance {
  return axios.create({
    timeout: timeoutMs,
    // The answer is text; parsing it ourselves keeps axios from trying JSON on 10 MB of it.
    responseType: 'text',
    transitional: { forcedJSONParsing: false },
    validateStatus: () => true,
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new HttpsAgent({ keepAlive: true }),
  });
}

/** One metrics answer as text; any failure is a QueueMetricsError that says which URL and why. */
export async function metricsText(http: AxiosInstance, url: string): Promise<string> {
  try {
    const response = await http.get<string>(url);
    if (response.status !== 200) {
      const hint = response.status === 404 ? ' (RabbitMQ before 3.10 has no /metrics/detailed)' : '';
      throw new QueueMetricsError(`${url} answered HTTP ${response.status}${hint}`);
    }
    return response.data;
  } catch (error) {
    if (error instanceof QueueMetricsError) throw error;
    const why = isAxiosError(error) ? (error.code ?? error.message) : String(error);
    throw new QueueMetricsError(`${url} did not answer: ${why}`, { cause: error });
  }
}

export class PrometheusQueueMetrics {
  private readonly http: AxiosInstance;

  constructor(
    readonly urls: string[],
    options: { timeoutMs?: number } = {},
  ) {
    this.http = prometheusHttp(options.timeoutMs);
  }

  /** Every node's answer, asked at the same time, and why each node that did not answer failed. */
  async readAll(): Promise<{ answers: NodeQueueMetrics[]; failures: string[] }> {
    const settled = await Promise.allSettled(this.urls.map((url) => this.read(url)));
    const answers: NodeQueueMetrics[] = [];
    const failures: string[] = [];
    for (const result of settled) {
      if (result.status === 'fulfilled') answers.push(result.value);
      else failures.push(result.reason instanceof Error ? result.reason.message : String(result.reason));
    }
    return { answers, failures };
  }

  async read(base: string): Promise<NodeQueueMetrics> {
    const url = `${base.replace(/\/$/, '')}${PATH}`;
    const text = await metricsText(this.http, url);
    const { node, queues } = parseQueueMetrics(text);
    if (!node) throw new QueueMetricsError(`${url} did not name its node (no rabbitmq_identity_info)`);
    return { url: base, node, queues };
  }
}
