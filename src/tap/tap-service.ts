/**
 * Runs the notification tap for every cluster: one AMQP tap and pipeline per cluster and vhost (an AMQP connection
 * lives in one vhost, so bindings in several vhosts take a connection each), one shared alert grouper in Redis, so
 * de-duplication and grouping span every vhost, and the flush loop that does the Slack side. Exposes status, pause
 * and resume for `/rabbit tap`.
 */

import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import type { ClusterConfig } from '../config/schema.js';
import type { BindingConfig, TapConfig } from '../config/tap-schema.js';
import { UnknownClusterError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WarrenMetrics } from '../metrics.js';
import { AlertGrouper } from './alert-grouper.js';
import { amqpUrlVhost } from './amqp-vhost.js';
import { NotificationRouter } from './notification-router.js';
import { NotificationTap, type TapStatus } from './notification-tap.js';
import { createTapMetrics, type TapMetrics } from './tap-metrics.js';
import { TapPipeline } from './tap-pipeline.js';

export interface TapControl {
  status(): TapStatus[];
  pause(cluster?: string): Promise<string[]>;
  resume(cluster?: string): Promise<string[]>;
}

export interface TapServiceOptions {
  clusters: ClusterConfig[];
  tap: TapConfig;
  alertChannel?: string;
  /** See AlertGrouperOptions.pacer. */
  pacer: ChannelPacer;
  redis: Redis;
  chat: ChatPort;
  metrics: WarrenMetrics;
  logger: Logger;
  /** Whether a channel may see a vhost's notifications (access.vhostScopes); unset: every channel sees all. */
  channelSees?: (channel: string, vhost: string) => boolean;
  /** Whether a cluster's vhost exists (the management API), to say why the broker refuses the tap a vhost. */
  vhostExists?: (cluster: string, vhost: string) => Promise<boolean>;
  /** How often queued Slack work is flushed; small so a new group reaches Slack within a second. */
  flushEveryMs?: number;
  /** Where groups live in Redis; default `warren:tap:`. */
  keyPrefix?: string;
}

/**
 * A cluster's bindings by the vhost they name, in the order first named; `undefined` for those that name none (the
 * AMQP URLs' own vhost, connected exactly as before vhosts could be named).
 */
function bindingsByVhost(cluster: ClusterConfig, tap: TapConfig): Map<string | undefined, BindingConfig[]> {
  const urlVhost = amqpUrlVhost(cluster.amqp[0] as string);
  const byVhost = new Map<string | undefined, BindingConfig[]>();
  for (const binding of cluster.tapBindings ?? tap.bindings) {
    // A binding naming the URLs' own vhost shares their connection.
    const vhost = binding.vhost === urlVhost ? undefined : binding.vhost;
    byVhost.set(vhost, [...(byVhost.get(vhost) ?? []), binding]);
  }
  // No bindings at all still gives the cluster its tap, as before vhosts could be named: it connects, shows in
  // `/rabbit tap`, and pause and resume name the cluster
  if (byVhost.size === 0) byVhost.set(undefined, []);
  return byVhost;
}

export class TapService implements TapControl {
  readonly grouper: AlertGrouper;
  readonly taps: NotificationTap[];
  readonly metrics: TapMetrics;
  private timer?: NodeJS.Timeout;
  private lastFlushError = 0;

  constructor(private readonly options: TapServiceOptions) {
    const { tap, logger } = options;
    this.metrics = createTapMetrics(options.metrics.registry);
    this.grouper = new AlertGrouper({
      redis: options.redis,
      chat: options.chat,
      windowMs: tap.groupWindow,
      updateIntervalMs: tap.updateInterval,
      maxSamples: tap.maxSamples,
      dedupTtlMs: tap.dedupTtl,
      pacer: options.pacer,
      ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
      logger,
      // The outbox logs each failure; a Slack one is counted too.
      onError: (_error, _group, stage) => {
        if (stage === 'slack') this.metrics.slack.inc({ action: 'error' });
      },
    });
    const router = new NotificationRouter({
      routes: tap.routes,
      alertChannel: options.alertChannel,
      groupBy: tap.groupBy,
      ...(options.channelSees ? { channelSees: options.channelSees } : {}),
    });
    this.taps = options.clusters.flatMap((cluster) =>
      [...bindingsByVhost(cluster, tap)].map(([vhost, bindings]) => {
        const pipeline = new TapPipeline({
          cluster: cluster.name,
          vhost: vhost ?? amqpUrlVhost(cluster.amqp[0] as string),
          maxBodyBytes: tap.maxBodyBytes,
          router,
          grouper: this.grouper,
          metrics: this.metrics,
          logger,
        });
        return new NotificationTap({
          cluster,
          tap,
          pipeline,
          metrics: this.metrics,
          logger,
          bindings,
          ...(vhost === undefined ? {} : { vhost }),
          ...(options.vhostExists
            ? { vhostExists: (name: string) => options.vhostExists?.(cluster.name, name) ?? Promise.resolve(true) }
            : {}),
        });
      }),
    );
  }

  start(): void {
    for (const tap of this.taps) tap.start();
    const every = this.options.flushEveryMs ?? 250;
    const tick = async () => {
      try {
        const stats = await this.grouper.flush();
        if (stats.posted) this.metrics.slack.inc({ action: 'post' }, stats.posted);
        if (stats.updated) this.metrics.slack.inc({ action: 'update' }, stats.updated);
        if (stats.replies) this.metrics.slack.inc({ action: 'reply' }, stats.replies);
        this.metrics.pendingGroups.set(await this.grouper.pending());
      } catch (error) {
        // Redis unreachable: say so at most every 30 s and keep ticking.
        if (Date.now() - this.lastFlushError > 30_000) this.options.logger.warn({ err: error }, 'tap flush failed');
        this.lastFlushError = Date.now();
      }
      if (this.timer) this.timer = setTimeout(tick, every);
    };
    this.timer = setTimeout(tick, every);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.taps.map((t) => t.stop()));
  }

  status(): TapStatus[] {
    return this.taps.map((t) => t.status());
  }

  private select(cluster?: string): NotificationTap[] {
    if (cluster === undefined) return this.taps;
    const found = this.taps.filter((t) => t.cluster === cluster);
    if (found.length === 0)
      throw new UnknownClusterError(
        cluster,
        this.taps.map((t) => t.cluster),
      );
    return found;
  }

  async pause(cluster?: string): Promise<string[]> {
    const taps = this.select(cluster);
    await Promise.all(taps.map((t) => t.pause()));
    return taps.map((t) => t.cluster);
  }

  async resume(cluster?: string): Promise<string[]> {
    const taps = this.select(cluster);
    await Promise.all(taps.map((t) => t.resume()));
    return taps.map((t) => t.cluster);
  }
}
