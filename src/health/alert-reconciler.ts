/**
 * Makes Slack show each alert as the store has it, through the Slack outbox (src/chat/slack-outbox.ts), which posts,
 * edits and threads. This side says what an alert's message shows (rendered with its silence and ack), whether it
 * may be posted at all (not while silenced, nor once resolved if it never was), and in what order an alert's
 * messages go: an earlier episode's RESOLVED edit and reply before the new episode's post. It runs under the
 * cluster's sweep lock: after the sweep (the monitor holds the lock then) and after a silence or an ack (it takes
 * the lock itself, or leaves the work to the sweep holding it).
 */
import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort, PostedMessage } from '../chat/chat-message.js';
import { type OutboxView, SlackOutbox } from '../chat/slack-outbox.js';
import type { Logger } from '../logger.js';
import { RedisLock } from '../redis/redis-lock.js';
import { type AlertAck, renderAlert } from './alert-message.js';
import type { AlertState } from './alert-state.js';
import type { AlertStore } from './alert-store.js';
import type { HealthCheck } from './health-check.js';
import type { HealthMetrics } from './health-metrics.js';
import type { Silence, SilenceStore } from './silences.js';

/** As long as a resolved alert is kept (AlertStore): a message not delivered by then has nobody left to tell. */
const OUTBOX_RETENTION_S = 7 * 24 * 3600;

export interface AlertReconcilerOptions {
  store: AlertStore;
  silences: SilenceStore;
  checks: readonly HealthCheck[];
  chat: ChatPort;
  pacer: ChannelPacer;
  redis: Redis;
  /** The Redis key of a cluster's sweep lock, which every writer of its alerts' messages holds. */
  lockKey: (cluster: string) => string;
  /** Redis keys of the alerts' messages in the Slack outbox. */
  outboxPrefix?: string;
  /** Workflows that exist, for the Fix… button. */
  hasWorkflow?: (name: string) => boolean;
  metrics?: HealthMetrics;
  logger: Logger;
  now: () => number;
}

/**
 * One alert episode, from firing to resolved, is one Slack message: `<alert id>#<fired at>`. When the alert fires
 * again, the new episode is a new message, and the old one may still owe Slack its RESOLVED edit and reply.
 */
function episodeOf(alert: AlertState): string {
  return `${alert.id}#${alert.firedAt}`;
}

function parseEpisode(episode: string): { id: string; firedAt: number } {
  const at = episode.lastIndexOf('#');
  return { id: episode.slice(0, at), firedAt: Number(episode.slice(at + 1)) };
}

export class AlertReconciler {
  private readonly outbox: SlackOutbox;

  constructor(private readonly options: AlertReconcilerOptions) {
    const { metrics } = options;
    this.outbox = new SlackOutbox({
      redis: options.redis,
      chat: options.chat,
      pacer: options.pacer,
      logger: options.logger,
      now: options.now,
      prefix: options.outboxPrefix ?? 'warren:health:outbox',
      kind: 'alert',
      retentionS: OUTBOX_RETENTION_S,
      ...(metrics
        ? {
            onCall: (action) => metrics.slack.inc({ action }),
            // The outbox logs each failure; a Slack one is counted too, a Redis one is the sweep's to report.
            onError: (_error, _id, stage) => {
              if (stage === 'slack') metrics.slack.inc({ action: 'error' });
            },
          }
        : {}),
      source: { posted: (episode, posted) => this.posted(episode, posted) },
    });
  }

  /** Brings every alert of a cluster in Slack up to date with its stored state. */
  async reconcileCluster(cluster: string, lock: RedisLock): Promise<void> {
    const pending = await this.outbox.pending();
    const alerts = await this.options.store.all();
    for (const alert of alerts) {
      if (alert.cluster === cluster && !(await this.reconcile(alert, lock, pending))) return;
    }
    // Episodes still owed to Slack whose alert is gone (a resolved alert kept its week while Slack refused it): their
    // staged rendering and replies are delivered all the same, or dropped once those expire too.
    const stored = new Set(alerts.map((a) => a.id));
    for (const episode of pending) {
      const { id } = parseEpisode(episode);
      if (stored.has(id) || id.slice(id.indexOf('@') + 1) !== cluster) continue;
      if (!(await this.outbox.deliver(episode, { lease: lock }))) break;
    }
  }

  /**
   * Stages what Slack should show for `stored` (and for earlier episodes the transition carried, in their final
   * form) in the outbox, together with the thread replies the transition queued, in one write with the state that
   * no longer holds them; then delivers the alert's episodes, oldest first, so that Slack shows an earlier episode
   * resolved before the new one is posted. Every Slack call renews the cluster's lock (the outbox's `lease`): a slow
   * Slack can then never outlast it, so no second replica changes the alert meanwhile. False once the lock is lost.
   */
  private async reconcile(stored: AlertState, lock: RedisLock, pending: readonly string[]): Promise<boolean> {
    const { store, silences, now } = this.options;
    const [silence, ack] = await Promise.all([silences.matching(stored.id, now()), store.ack(stored.id)]);
    const { superseded = [], ...own } = stored;
    // Posted only while firing, unsilenced and with a channel; one already posted is still edited.
    const post = own.status === 'firing' && !silence && own.channel !== '';
    const view = this.view(own, silence, ack);
    const episodes = [
      ...superseded.map((old) => ({ alert: old, view: this.view(old, undefined, undefined), post: true })),
      { alert: own, view, post },
    ];
    const changed =
      superseded.length > 0 || own.replies.length > 0 || !(await this.outbox.isStaged(episodeOf(own), view, { post }));
    if (changed) {
      await store.put({ ...own, replies: [] }, (multi) => {
        for (const { alert, view, post } of episodes) {
          this.outbox.stage(multi, episodeOf(alert), view, { replies: alert.replies, post });
        }
      });
    }
    const ids = new Set([
      ...pending.filter((e) => parseEpisode(e).id === stored.id),
      ...(changed ? episodes.map((e) => episodeOf(e.alert)) : []),
    ]);
    const order = [...ids].sort((a, b) => parseEpisode(a).firedAt - parseEpisode(b).firedAt);
    for (const episode of order) {
      // A message still owed stays ahead of a newer one: the next sweep goes on from here.
      if (!(await this.outbox.deliver(episode, { lease: lock }))) break;
    }
    return lock.extend();
  }

  private view(alert: AlertState, silence: Silence | undefined, ack: AlertAck | undefined): OutboxView {
    const check = this.options.checks.find((c) => c.id === alert.check);
    const message = renderAlert(alert, {
      title: check?.title ?? alert.check,
      hint: check?.hint ?? '',
      workflow: check?.workflow && this.options.hasWorkflow?.(check.workflow) ? check.workflow : undefined,
      silence,
      ack,
    });
    return { channel: alert.channel, message, ...(alert.ts ? { ts: alert.ts } : {}) };
  }

  /** The episode's message is in Slack: the alert keeps its ts (its transitions ask whether it was posted). */
  private async posted(episode: string, posted: PostedMessage): Promise<void> {
    const { id, firedAt } = parseEpisode(episode);
    const alert = await this.options.store.get(id);
    if (alert && alert.firedAt === firedAt && alert.ts !== posted.ts)
      await this.options.store.put({ ...alert, ts: posted.ts });
  }

  /**
   * Re-renders alerts after a silence or ack, when no sweep of their cluster is running; otherwise the running
   * sweep (or the next) picks the change up, since rendering reads silences and acks every time.
   */
  async refresh(which: (alert: AlertState) => boolean): Promise<void> {
    const alerts = (await this.options.store.all()).filter(which);
    for (const cluster of new Set(alerts.map((a) => a.cluster))) {
      const lock = await RedisLock.acquire(this.options.redis, this.options.lockKey(cluster), 60_000);
      if (!lock) continue;
      try {
        const pending = await this.outbox.pending();
        for (const alert of alerts.filter((a) => a.cluster === cluster)) {
          const fresh = await this.options.store.get(alert.id);
          if (fresh && !(await this.reconcile(fresh, lock, pending))) break;
        }
      } finally {
        await lock.release().catch(() => undefined);
      }
    }
  }
}
