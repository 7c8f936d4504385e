/**
 * A cluster's Prometheus plugin endpoints, one per node, and how they are asked: one keep-alive HTTP client, one
 * deadline per answer, compressed answers only when clusters[].httpCompression asks. Every reader of the plugin
 * (queue depths, drop counters) asks through the same object, so a cluster's settings are given once and its
 * connections are shared between the readers.
 */
import type { AxiosInstance } from 'axios';
import { METRICS_TIMEOUT_MS, prometheusHttp, readMetricLines } from './prometheus-text.js';

export interface PrometheusEndpointsOptions {
  /** How long one whole answer may take (health.listingTimeout); default METRICS_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Ask for gzip-compressed answers (clusters[].httpCompression); default false. */
  compression?: boolean;
}

export class PrometheusEndpoints {
  private readonly timeoutMs: number;
  private readonly http: AxiosInstance;

  constructor(
    readonly urls: readonly string[],
    options: PrometheusEndpointsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? METRICS_TIMEOUT_MS;
    this.http = prometheusHttp({ compression: options.compression ?? false });
  }

  /** `path` (with its query) on the node whose endpoint is `base`. */
  url(base: string, path: string): string {
    return `${base.replace(/\/$/, '')}${path}`;
  }

  /** Reads one answer, giving each line to `onLine` as it arrives; failures are QueueMetricsErrors naming the URL. */
  lines(url: string, onLine: (line: string) => void): Promise<void> {
    return readMetricLines(this.http, url, onLine, this.timeoutMs);
  }
}
