/**
 * Runs the health checks of a cluster and keeps its alerts true: one sweep fetches a snapshot, evaluates every
 * enabled check, advances each culprit's streak of failing sweeps, moves each alert through its lifecycle
 * (fired → updated/reminded → resolved), then has the reconciler (alert-reconciler.ts) make Slack match the stored
 * state. Only the holder of the cluster's sweep lock writes, so two replicas never post the same alert twice; a Slack
 * failure leaves the state ahead of Slack and the next sweep catches up. It is also the `HealthControl` that
 * `/rabbit health`, `alerts`, `silence` and the alert buttons use; what people do to alerts is alert-service.ts.
 */
import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import type { ClusterDirectory } from '../cluster/cluster-directory.js';
import type { HealthConfig } from '../config/health-schema.js';
import { UnknownClusterError } from '../errors.js';
import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';
import { PrometheusEndpoints } from '../management/prometheus-endpoints.js';
import { RedisLock } from '../redis/redis-lock.js';
import type { AlertAck } from './alert-message.js';
import { AlertReconciler } from './alert-reconciler.js';
import { AlertService } from './alert-service.js';
import { type AlertState, transition } from './alert-state.js';
import { AlertStore } from './alert-store.js';
import { type CheckResult, outcomeOf, runChecks } from './check-run.js';
import { allChecks } from './checks/index.js';
import { type ClusterSnapshot, queueKey } from './cluster-snapshot.js';
import { CounterStore } from './drop-counters.js';
import type { Finding } from './finding.js';
import type { HealthCheck, QueueHistory, QueueSample } from './health-check.js';
import type { HealthMetrics } from './health-metrics.js';
import { type Silence, SilenceStore } from './silences.js';
import { SnapshotFetcher, type SnapshotSource } from './snapshot-fetcher.js';
import { StopOrderStore } from './stop-order.js';

export interface EvaluatedCluster {
  cluster: string;
  snapshot: ClusterSnapshot;
  results: CheckResult[];
  /** The queue history the checks were given, which the sweep extends with this snapshot. */
  history: QueueHistory;
}

export interface SweepOutcome {
  cluster: string;
  /** False when another replica held the cluster's sweep. */
  ran: boolean;
  events: Record<string, string>;
}

/** What commands and buttons may ask of the health checks. */
export interface HealthControl {
  readonly checks: readonly HealthCheck[];
  evaluate(cluster: string): Promise<EvaluatedCluster>;
  alerts(): Promise<AlertState[]>;
  silences(): Promise<Silence[]>;
  /** Throws `UnknownAlertError` when the target is neither an alert id nor a check id. */
  silence(target: string, durationMs: number, author: string, reason: string): Promise<Silence>;
  unsilence(id: string): Promise<Silence | undefined>;
  ack(alertId: string, user: string): Promise<{ alert?: AlertState; ack?: AlertAck; already?: AlertAck }>;
  ackOf(alertId: string): Promise<AlertAck | undefined>;
}

export interface HealthMonitorOptions {
  clusters: ClusterDirectory;
  health: HealthConfig;
  /** Where alerts are posted; without one, alerts are tracked (and listed by `/rabbit alerts`) but not posted. */
  channel?: string;
  /** The pace of Slack calls per channel, shared with every other sender (see ChannelPacer). */
  pacer: ChannelPacer;
  redis: Redis;
  chat: ChatPort;
  logger: Logger;
  metrics?: HealthMetrics;
  /** Workflows that exist, for the Fix… button; none until the remediation workflows are registered. */
  hasWorkflow?: (name: string) => boolean;
  checks?: readonly HealthCheck[];
  keyPrefix?: string;
  now?: () => number;
  /**
   * Where each cluster's snapshots come from instead of its management API: the sweep's own tests (streaks, a part
   * unreadable, resolution) need no broker. Clusters not named here are read as configured.
   */
  snapshots?: ReadonlyMap<string, SnapshotSource>;
}

export class HealthMonitor implements HealthControl {
  readonly checks: readonly HealthCheck[];
  readonly store: AlertStore;
  readonly silenceStore: SilenceStore;
  private readonly counterStore: CounterStore;
  private readonly stopOrder: StopOrderStore;
  private readonly fetchers = new Map<string, SnapshotSource>();
  private readonly reconciler: AlertReconciler;
  private readonly alertService: AlertService;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly haPattern: RegExp | undefined;
  /** A cluster whose metrics stay unusable would otherwise say so every sweep. */
  private readonly depthFallbackLog = new LogThrottle(600_000);

  constructor(private readonly options: HealthMonitorOptions) {
    const disabled = new Set<string>(options.health.disabled);
    this.checks = (options.checks ?? allChecks).filter((c) => !disabled.has(c.id));
    this.prefix = options.keyPrefix ?? 'warren:health:';
    this.store = new AlertStore(options.redis, this.prefix);
    this.silenceStore = new SilenceStore(options.redis, this.prefix);
    this.counterStore = new CounterStore(options.redis, this.prefix);
    this.stopOrder = new StopOrderStore(options.redis, this.prefix);
    this.now = options.now ?? Date.now;
    this.reconciler = new AlertReconciler({
      store: this.store,
      silences: this.silenceStore,
      checks: this.checks,
      chat: options.chat,
      pacer: options.pacer,
      redis: options.redis,
      lockKey: (cluster) => `${this.prefix}lock:${cluster}`,
      outboxPrefix: `${this.prefix}outbox`,
      ...(options.hasWorkflow ? { hasWorkflow: options.hasWorkflow } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      logger: options.logger,
      now: this.now,
    });
    this.alertService = new AlertService({
      store: this.store,
      silences: this.silenceStore,
      checks: this.checks,
      reconciler: this.reconciler,
      logger: options.logger,
      now: this.now,
    });
    this.haPattern = options.health.haPattern ? new RegExp(options.health.haPattern) : undefined;
    for (const handle of options.clusters.all()) {
      this.fetchers.set(
        handle.config.name,
        new SnapshotFetcher(handle.config.name, handle.management, {
          pageSize: this.options.health.pageSize,
          listingTimeoutMs: this.options.health.listingTimeout,
          ...(handle.config.prometheus
            ? {
                prometheus: new PrometheusEndpoints(handle.config.prometheus, {
                  timeoutMs: this.options.health.listingTimeout,
                  compression: handle.config.httpCompression,
                }),
              }
            : {}),
          partitionHandling: handle.partitionHandling,
          bootWatch: handle.bootWatch,
          streamMembers: handle.nodeControl,
        }),
      );
    }
    for (const [cluster, source] of options.snapshots ?? []) this.fetchers.set(cluster, source);
  }

  private fetcher(cluster: string): SnapshotSource {
    const fetcher = this.fetchers.get(cluster);
    if (!fetcher) {
      // Throws UnknownClusterError with the configured names; a configured cluster this monitor does not sweep is
      // unknown here all the same.
      this.options.clusters.get(cluster);
      throw new UnknownClusterError(cluster, [...this.fetchers.keys()]);
    }
    return fetcher;
  }

  /** Fetches and judges a cluster without touching alert state: `/rabbit health` and the sweep's first half. */
  async evaluate(cluster: string): Promise<EvaluatedCluster> {
    const snapshot = await this.fetcher(cluster).fetch(this.now);
    if (snapshot.nodes) await this.stopOrder.observe(cluster, snapshot.nodes, snapshot.takenAt);
    const [history, counters, lastSeenRunning] = await Promise.all([
      this.store.history(cluster),
      this.counterStore.previous(cluster),
      this.stopOrder.lastSeenRunning(cluster),
    ]);
    const context = {
      thresholds: this.options.health.thresholds,
      history,
      haPattern: this.haPattern,
      counters,
      lastSeenRunning,
    };
    const results = runChecks(this.checks, snapshot, context, (check, error) =>
      this.options.logger.error({ err: error, check: check.id, cluster }, 'health check failed'),
    );
    return { cluster, snapshot, results, history };
  }

  /** One scheduled sweep of a cluster; a no-op when another replica is sweeping it right now. */
  async sweep(cluster: string): Promise<SweepOutcome> {
    const { redis, logger, metrics, health } = this.options;
    const lock = await RedisLock.acquire(redis, `${this.prefix}lock:${cluster}`, Math.max(60_000, 3 * health.interval));
    if (!lock) return { cluster, ran: false, events: {} };
    const started = performance.now();
    try {
      const { snapshot, results, history } = await this.evaluate(cluster);
      for (const [part, error] of Object.entries(snapshot.errors)) {
        metrics?.managementErrors.inc({ cluster, part });
        logger.warn({ cluster, part, error }, 'part of the cluster could not be read; checks that need it skip');
      }
      const depths = snapshot.depths;
      if (depths?.from === 'management' && depths.fallback) {
        const { fallback } = depths;
        this.depthFallbackLog.pass(cluster, (held) =>
          logger.warn(
            { cluster, error: fallback, sweepsSinceLastSaid: held },
            'queue depths read from the management API this sweep: the Prometheus metrics were incomplete',
          ),
        );
      }
      const events: Record<string, string> = {};
      for (const result of results) {
        const outcome = outcomeOf(result);
        metrics?.outcomes.inc({ cluster, check: result.check.id, outcome });
        if (outcome === 'not_applicable') continue;
        if (!result.findings) {
          metrics?.skipped.inc({ cluster, check: result.check.id });
          continue;
        }
        events[result.check.id] = await this.advance(cluster, result.check, result.findings);
      }
      metrics?.setFindings(cluster, results);
      if (snapshot.queues) {
        const samples = snapshot.queues.map((q): [string, QueueSample] => [
          queueKey(q),
          { at: snapshot.takenAt, messages: q.messages, ready: q.messages_ready, unacked: q.messages_unacknowledged },
        ]);
        await this.store.saveHistory(cluster, history, samples, health.thresholds.growthSweeps);
      }
      if (snapshot.counters) {
        await this.counterStore.save(cluster, snapshot.takenAt, snapshot.counters, snapshot.nodeCounters);
      }
      // The lease may be near its end after a slow fetch; Slack work below must stay single-writer.
      if (await lock.extend()) await this.reconciler.reconcileCluster(cluster, lock);
      metrics?.sweeps.inc({ cluster, outcome: 'ok' });
      return { cluster, ran: true, events };
    } catch (error) {
      metrics?.sweeps.inc({ cluster, outcome: 'error' });
      throw error;
    } finally {
      metrics?.sweepSeconds.observe({ cluster }, (performance.now() - started) / 1000);
      await lock.release().catch(() => undefined);
    }
  }

  private async advance(cluster: string, check: HealthCheck, findings: Finding[]): Promise<string> {
    const { health } = this.options;
    const needed = health.for[check.id as keyof typeof health.for] ?? health.defaultFor;
    const streaks = await this.store.advanceStreaks(cluster, check.id, [...new Set(findings.map((f) => f.subject))]);
    const firing = findings.filter((f) => (streaks.get(f.subject) ?? 0) >= needed);
    const id = `${check.id}@${cluster}`;
    const previous = await this.store.get(id);
    const now = this.now();
    const quiet = (await this.silenceStore.matching(id, now)) !== undefined || (await this.store.ack(id)) !== undefined;
    const { state, event } = transition({
      id,
      cluster,
      check: check.id,
      channel: previous?.status === 'firing' ? previous.channel : (this.options.channel ?? ''),
      previous,
      firing,
      now,
      repeatIntervalMs: health.repeatInterval,
      quiet,
    });
    if (state && event !== 'quiet' && event !== 'unchanged') await this.store.put(state);
    if (event === 'fired' || event === 'resolved') {
      this.options.logger.info({ alert: id, event, findings: firing.length }, `alert ${event}`);
    }
    return event;
  }

  alerts(): Promise<AlertState[]> {
    return this.alertService.alerts();
  }

  silences(): Promise<Silence[]> {
    return this.alertService.silences();
  }

  silence(target: string, durationMs: number, author: string, reason: string): Promise<Silence> {
    return this.alertService.silence(target, durationMs, author, reason);
  }

  unsilence(id: string): Promise<Silence | undefined> {
    return this.alertService.unsilence(id);
  }

  ackOf(alertId: string): Promise<AlertAck | undefined> {
    return this.alertService.ackOf(alertId);
  }

  ack(alertId: string, user: string): ReturnType<HealthControl['ack']> {
    return this.alertService.ack(alertId, user);
  }
}
