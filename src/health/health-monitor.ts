/**
 * Runs the health checks of a cluster and keeps its alerts true: one sweep fetches a snapshot, evaluates every
 * enabled check, advances each culprit's streak of failing sweeps, moves each alert through its lifecycle
 * (fired → updated/reminded → resolved) and then makes Slack match the stored state. Only the holder of the
 * cluster's sweep lock writes, so two replicas never post the same alert twice; a Slack failure leaves the state
 * ahead of Slack and the next sweep catches up. It also serves `/rabbit health`, `alerts`, `silence` and the
 * alert buttons.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import type { ClusterDirectory } from '../cluster/cluster-directory.js';
import { formatDuration } from '../config/duration.js';
import type { HealthConfig } from '../config/health-schema.js';
import { UnknownAlertError, UnknownClusterError } from '../errors.js';
import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';
import { PrometheusQueueMetrics } from '../management/prometheus-queue-metrics.js';
import { RedisLock } from '../redis/redis-lock.js';
import { type AlertAck, renderAlert } from './alert-message.js';
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
import { SnapshotFetcher } from './snapshot-fetcher.js';

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
  channelIntervalMs: number;
  redis: Redis;
  chat: ChatPort;
  logger: Logger;
  metrics?: HealthMetrics;
  /** Workflows that exist, for the Fix… button; none until the remediation workflows are registered. */
  hasWorkflow?: (name: string) => boolean;
  checks?: readonly HealthCheck[];
  keyPrefix?: string;
  now?: () => number;
}

function hashMessage(value: unknown): string {
  return createHash('sha1').update(JSON.stringify(value)).digest('hex');
}

export class HealthMonitor implements HealthControl {
  readonly checks: readonly HealthCheck[];
  readonly store: AlertStore;
  readonly silenceStore: SilenceStore;
  private readonly counterStore: CounterStore;
  private readonly fetchers = new Map<string, SnapshotFetcher>();
  private readonly pacer: ChannelPacer;
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
    this.pacer = new ChannelPacer(options.redis, options.channelIntervalMs);
    this.now = options.now ?? Date.now;
    this.haPattern = options.health.haPattern ? new RegExp(options.health.haPattern) : undefined;
    for (const handle of options.clusters.all()) {
      this.fetchers.set(
        handle.config.name,
        new SnapshotFetcher(
          handle.config.name,
          handle.management,
          this.options.health.pageSize,
          this.options.health.listingTimeout,
          handle.config.prometheus
            ? new PrometheusQueueMetrics(handle.config.prometheus, { timeoutMs: this.options.health.listingTimeout })
            : undefined,
          handle.partitionHandling,
          handle.nodeControl,
        ),
      );
    }
  }

  private fetcher(cluster: string): SnapshotFetcher {
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
    const [history, counters] = await Promise.all([this.store.history(cluster), this.counterStore.previous(cluster)]);
    const context = { thresholds: this.options.health.thresholds, history, haPattern: this.haPattern, counters };
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
      if (await lock.extend()) await this.reconcileCluster(cluster, lock);
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

  /** Brings every alert of a cluster in Slack up to date with its stored state. */
  private async reconcileCluster(cluster: string, lock: RedisLock): Promise<void> {
    for (const alert of await this.store.all()) {
      if (alert.cluster === cluster) await this.reconcile(alert, lock);
    }
  }

  /**
   * Makes Slack show `alert` as stored: post it when it fires (unless silenced, or there is no channel), edit it
   * when what it would show changed, then post queued thread replies in order. Each step is saved as it succeeds,
   * so a failure part-way is resumed by the next sweep without repeating what Slack already has.
   *
   * Every call waits for the channel's pace, then renews the cluster's lock: a slow Slack (each attempt bounded by
   * `slack.apiTimeout`) can then never outlast the lease, so no second replica reconciles the same alert at once
   * and posts it again or out of order. A lost lease stops here; its new holder carries on.
   */
  private async reconcile(stored: AlertState, lock: RedisLock): Promise<void> {
    const { logger } = this.options;
    // `show` works on its own copy; `current` is what was last saved.
    let current = stored;
    let channel = current.channel;
    const mayCall = async () => {
      await this.pacer.claim(channel);
      return lock.extend();
    };
    try {
      // Older messages first: Slack then shows the earlier episode resolved before the new one is posted.
      while (current.superseded && current.superseded.length > 0) {
        const [oldest, ...rest] = current.superseded as [AlertState, ...AlertState[]];
        channel = oldest.channel;
        const done = await this.show(oldest, { silence: undefined, ack: undefined }, mayCall, async (progress) => {
          current = { ...current, superseded: [progress, ...rest] };
          await this.store.put(current);
        });
        if (!done) return;
        const { superseded: _, ...withoutSuperseded } = current;
        current = rest.length > 0 ? { ...withoutSuperseded, superseded: rest } : withoutSuperseded;
        await this.store.put(current);
      }
      channel = current.channel;
      const now = this.now();
      const [silence, ack] = await Promise.all([
        this.silenceStore.matching(current.id, now),
        this.store.ack(current.id),
      ]);
      await this.show(current, { silence, ack }, mayCall, async (progress) => {
        current = progress;
        await this.store.put(progress);
      });
    } catch (error) {
      this.options.metrics?.slack.inc({ action: 'error' });
      await this.pacer.holdAfter(channel, error);
      logger.warn({ err: error, alert: current.id }, 'updating the alert in Slack failed; the next sweep retries');
    }
  }

  /**
   * One message's part of reconcile: post, edit, then replies, each saved through `save` as it succeeds. Resolves
   * true once Slack shows the message as stored, false when the lock was lost on the way; throws on a Slack error.
   */
  private async show(
    stored: AlertState,
    context: { silence: Silence | undefined; ack: AlertAck | undefined },
    mayCall: () => Promise<boolean>,
    save: (alert: AlertState) => Promise<void>,
  ): Promise<boolean> {
    const { chat } = this.options;
    const alert = { ...stored, replies: [...stored.replies] };
    const check = this.checks.find((c) => c.id === alert.check);
    const message = renderAlert(alert, {
      title: check?.title ?? alert.check,
      hint: check?.hint ?? '',
      workflow: check?.workflow && this.options.hasWorkflow?.(check.workflow) ? check.workflow : undefined,
      silence: context.silence,
      ack: context.ack,
    });
    const hash = hashMessage(message);
    if (!alert.channel) return true;
    if (!alert.ts) {
      if (alert.status !== 'firing' || context.silence) {
        // Never posted and now resolved or silenced: there is nothing in Slack to correct or tell.
        if (alert.status === 'resolved' && alert.replies.length > 0) await save({ ...alert, replies: [] });
        return true;
      }
      if (!(await mayCall())) return false;
      const posted = await chat.post(alert.channel, message);
      alert.ts = posted.ts;
      alert.shownHash = hash;
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'post' });
    } else if (alert.shownHash !== hash) {
      if (!(await mayCall())) return false;
      await chat.update(alert.channel, alert.ts, message);
      alert.shownHash = hash;
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'update' });
    }
    while (alert.ts && alert.replies.length > 0) {
      if (!(await mayCall())) return false;
      await chat.post(alert.channel, { text: alert.replies[0] as string }, { threadTs: alert.ts });
      alert.replies.shift();
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'reply' });
    }
    return true;
  }

  async alerts(): Promise<AlertState[]> {
    return (await this.store.all()).filter((a) => a.status === 'firing');
  }

  silences(): Promise<Silence[]> {
    return this.silenceStore.active(this.now());
  }

  async silence(target: string, durationMs: number, author: string, reason: string): Promise<Silence> {
    const known = this.checks.some((c) => c.id === target) || (await this.store.all()).some((a) => a.id === target);
    if (!known) {
      throw new UnknownAlertError(
        `no alert or check \`${target}\`: use an alert id from \`alerts\` (like \`zombie-queues@prod\`) or a check id`,
      );
    }
    const silence = await this.silenceStore.add(
      { target, author, reason, expiresAt: this.now() + durationMs },
      this.now(),
    );
    this.options.logger.info(
      { silence: silence.id, target, author, for: formatDuration(durationMs) },
      'alerts silenced',
    );
    await this.refresh((a) => a.id === target || a.check === target);
    return silence;
  }

  async unsilence(id: string): Promise<Silence | undefined> {
    const removed = await this.silenceStore.remove(id);
    if (removed) await this.refresh((a) => a.id === removed.target || a.check === removed.target);
    return removed;
  }

  ackOf(alertId: string): Promise<AlertAck | undefined> {
    return this.store.ack(alertId);
  }

  async ack(alertId: string, user: string) {
    const alert = await this.store.get(alertId);
    if (alert?.status !== 'firing') return { alert };
    const ack = { user, at: this.now() };
    if (!(await this.store.setAck(alertId, ack))) return { alert, already: await this.store.ack(alertId) };
    await this.refresh((a) => a.id === alertId);
    return { alert, ack };
  }

  /**
   * Re-renders alerts after a silence or ack, when no sweep of their cluster is running; otherwise the running
   * sweep (or the next) picks the change up, since rendering reads silences and acks every time.
   */
  private async refresh(which: (alert: AlertState) => boolean): Promise<void> {
    const alerts = (await this.store.all()).filter(which);
    for (const cluster of new Set(alerts.map((a) => a.cluster))) {
      const lock = await RedisLock.acquire(this.options.redis, `${this.prefix}lock:${cluster}`, 60_000);
      if (!lock) continue;
      try {
        for (const alert of alerts.filter((a) => a.cluster === cluster)) {
          const fresh = await this.store.get(alert.id);
          if (fresh) await this.reconcile(fresh, lock);
        }
      } finally {
        await lock.release().catch(() => undefined);
      }
    }
  }
}
