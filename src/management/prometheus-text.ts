/**
 * RabbitMQ's Prometheus plugin answers in the Prometheus text format: one sample per line,
 * `metric{label="value",…} number [timestamp]`. This module reads such answers line by line, as they arrive.
 *
 * Why line by line: at 100,000 queues every node's `/metrics/detailed` is several MB of text, and a sweep asks all
 * nodes at once. Read whole, each answer was held three times at its peak (the received chunks, their
 * concatenation, the string made of it) next to the parsed figures; read as a stream, only the figures and one
 * chunk are held.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { QueueMetricsError } from '../errors.js';
import { acceptEncoding } from './accept-encoding.js';

/** One sample line. */
export interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

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
    // Whole runs between escapes are copied at once: most values have no escape at all.
    for (;;) {
      const quote = line.indexOf('"', j);
      if (quote < 0) throw new QueueMetricsError(`unterminated label value in "${line.slice(0, 200)}"`);
      const backslash = line.indexOf('\\', j);
      if (backslash < 0 || backslash > quote) {
        value += line.slice(j, quote);
        j = quote;
        break;
      }
      const escaped = line[backslash + 1];
      if (escaped === undefined) throw new QueueMetricsError(`unterminated label value in "${line.slice(0, 200)}"`);
      value += line.slice(j, backslash) + (escaped === 'n' ? '\n' : escaped);
      j = backslash + 2;
    }
    labels[name] = value;
    i = line[j + 1] === ',' ? j + 2 : j + 1;
  }
  if (i >= line.length) throw new QueueMetricsError(`unterminated labels in "${line.slice(0, 200)}"`);
  return { labels, end: i + 1 };
}

/** The sample on `line` when its metric is one of `wanted`; undefined for comments and other metrics. */
export function sampleOf(line: string, wanted: ReadonlySet<string>): Sample | undefined {
  if (!line.startsWith('rabbitmq_')) return undefined;
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
  if (nameEnd < 0) return undefined;
  const metric = line.slice(0, nameEnd);
  if (!wanted.has(metric)) return undefined;
  const { labels, end } = brace === nameEnd ? readLabels(line, brace + 1) : { labels: {}, end: nameEnd };
  // A sample may carry a timestamp after its value.
  const value = Number(line.slice(end).trim().split(' ')[0]);
  if (!Number.isFinite(value)) throw new QueueMetricsError(`unreadable sample "${line.slice(0, 200)}"`);
  return { metric, labels, value };
}

/** Every line of a whole answer, for answers already read (and tests). */
export function* linesOf(text: string): Generator<string> {
  let at = 0;
  while (at < text.length) {
    let next = text.indexOf('\n', at);
    if (next < 0) next = text.length;
    yield text.slice(at, next);
    at = next + 1;
  }
}

/** Cuts a stream of text chunks into lines; a line split between chunks is held until its end comes. */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.write(chunk);
    let at = 0;
    for (let next = text.indexOf('\n', at); next >= 0; next = text.indexOf('\n', at)) {
      this.onLine(text.slice(at, next));
      at = next + 1;
    }
    this.rest = text.slice(at);
  }

  end(): void {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    if (last.length > 0) this.onLine(last);
  }
}

/** How long one whole metrics answer may take when the caller names no limit. */
export const METRICS_TIMEOUT_MS = 30_000;

/** The HTTP client for a node's Prometheus plugin: statuses are judged by the caller. */
export function prometheusHttp(options: { compression?: boolean } = {}): AxiosInstance {
  return axios.create({
    headers: acceptEncoding(options.compression),
    validateStatus: () => true,
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new HttpsAgent({ keepAlive: true }),
  });
}

/**
 * Reads one metrics answer, giving each line to `onLine` as it arrives, within `timeoutMs` for the whole answer
 * (axios's own timeout ends with the headers on a streamed answer). Any failure, `onLine`'s included, is a
 * QueueMetricsError that says which URL and why.
 */
export async function readMetricLines(
  http: AxiosInstance,
  url: string,
  onLine: (line: string) => void,
  timeoutMs: number,
): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    const response = await http.get<NodeJS.ReadableStream>(url, { responseType: 'stream', signal: deadline });
    if (response.status !== 200) {
      // The body is small and not wanted; reading it lets the connection go back to the pool.
      response.data.resume();
      const hint = response.status === 404 ? ' (RabbitMQ before 3.10 has no /metrics/detailed)' : '';
      throw new QueueMetricsError(`${url} answered HTTP ${response.status}${hint}`);
    }
    const lines = new LineSplitter(onLine);
    try {
      for await (const chunk of response.data) lines.push(chunk as Buffer);
    } catch (error) {
      if (error instanceof QueueMetricsError) throw new QueueMetricsError(`${url}: ${error.message}`);
      // An abort ends the stream with an error of its own kind; say what it was.
      if (deadline.aborted) throw new QueueMetricsError(`${url} did not finish its answer within ${timeoutMs} ms`);
      throw error;
    }
    lines.end();
  } catch (error) {
    if (error instanceof QueueMetricsError) throw error;
    if (deadline.aborted) throw new QueueMetricsError(`${url} did not answer within ${timeoutMs} ms`, { cause: error });
    const why = isAxiosError(error) ? (error.code ?? error.message) : String(error);
    throw new QueueMetricsError(`${url} did not answer: ${why}`, { cause: error });
  }
}
