/**
 * Makes Slack show each alert as the store has it: post it when it fires (unless silenced, or there is no channel),
 * edit it in place when what it would show changed, post its queued thread replies in order, and first close the
 * earlier episodes it superseded. Each step is saved as it succeeds, so a failure part-way is resumed later without
 * repeating what Slack already has. It runs under the cluster's sweep lock: after the sweep (the monitor holds the
 * lock then) and after a silence or an ack (it takes the lock itself, or leaves the work to the sweep holding it).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type ChannelPacer, isRateLimited, type PaceKind } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import type { Logger } from '../logger.js';
import { RedisLock } from '../redis/redis-lock.js';
import { type AlertAck, renderAlert } from './alert-message.js';
import type { AlertState } from './alert-state.js';
import type { AlertStore } from './alert-store.js';
import type { HealthCheck } from './health-check.js';
import type { HealthMetrics } from './health-metrics.js';
import type { Silence, SilenceStore } from './silences.js';

export interface AlertReconcilerOptions {
  store: AlertStore;
  silences: SilenceStore;
  checks: readonly HealthCheck[];
  chat: ChatPort;
  pacer: ChannelPacer;
  redis: Redis;
  /** The Redis key of a cluster's sweep lock, which every writer of its alerts' messages holds. */
  lockKey: (cluster: string) => string;
  /** Workflows that exist, for the Fix… button. */
  hasWorkflow?: (name: string) => boolean;
  metrics?: HealthMetrics;
  logger: Logger;
  now: () => number;
}

function hashMessage(value: unknown): string {
  return createHash('sha1').update(JSON.stringify(value)).digest('hex');
}

export class AlertReconciler {
  constructor(private readonly options: AlertReconcilerOptions) {}

  /** Brings every alert of a cluster in Slack up to date with its stored state. */
  async reconcileCluster(cluster: string, lock: RedisLock): Promise<void> {
    for (const alert of await this.options.store.all()) {
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
  private async reconcile(stored: AlertState, lock: RedisLock, rateLimited = false): Promise<void> {
    const { logger } = this.options;
    // `show` works on its own copy; `current` is what was last saved.
    let current = stored;
    let channel = current.channel;
    const mayCall = async (kind: PaceKind) => {
      await this.options.pacer.claim(channel, kind, `alert:${stored.id}`);
      return lock.extend();
    };
    try {
      // Older messages first: Slack then shows the earlier episode resolved before the new one is posted.
      while (current.superseded && current.superseded.length > 0) {
        const [oldest, ...rest] = current.superseded as [AlertState, ...AlertState[]];
        channel = oldest.channel;
        const done = await this.show(oldest, { silence: undefined, ack: undefined }, mayCall, async (progress) => {
          current = { ...current, superseded: [progress, ...rest] };
          await this.options.store.put(current);
        });
        if (!done) return;
        const { superseded: _, ...withoutSuperseded } = current;
        current = rest.length > 0 ? { ...withoutSuperseded, superseded: rest } : withoutSuperseded;
        await this.options.store.put(current);
      }
      channel = current.channel;
      const now = this.options.now();
      const [silence, ack] = await Promise.all([
        this.options.silences.matching(current.id, now),
        this.options.store.ack(current.id),
      ]);
      await this.show(current, { silence, ack }, mayCall, async (progress) => {
        current = progress;
        await this.options.store.put(progress);
      });
    } catch (error) {
      this.options.metrics?.slack.inc({ action: 'error' });
      await this.options.pacer.holdAfter(channel, error);
      // A 429 says when to come back, usually within seconds: once per sweep, wait that out (the pacer's claim does)
      // and go on from what was saved, rather than leave a new alert for the next sweep.
      if (isRateLimited(error) && !rateLimited) {
        const saved = await this.options.store.get(current.id);
        if (saved) return this.reconcile(saved, lock, true);
      }
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
    mayCall: (kind: PaceKind) => Promise<boolean>,
    save: (alert: AlertState) => Promise<void>,
  ): Promise<boolean> {
    const { chat } = this.options;
    const alert = { ...stored, replies: [...stored.replies] };
    const check = this.options.checks.find((c) => c.id === alert.check);
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
      if (!(await mayCall('post'))) return false;
      const posted = await chat.post(alert.channel, message);
      alert.ts = posted.ts;
      alert.shownHash = hash;
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'post' });
    } else if (alert.shownHash !== hash) {
      if (!(await mayCall('edit'))) return false;
      await chat.update(alert.channel, alert.ts, message);
      alert.shownHash = hash;
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'update' });
    }
    while (alert.ts && alert.replies.length > 0) {
      if (!(await mayCall('reply'))) return false;
      await chat.post(alert.channel, { text: alert.replies[0] as string }, { threadTs: alert.ts });
      alert.replies.shift();
      await save({ ...alert, replies: [...alert.replies] });
      this.options.metrics?.slack.inc({ action: 'reply' });
    }
    return true;
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
        for (const alert of alerts.filter((a) => a.cluster === cluster)) {
          const fresh = await this.options.store.get(alert.id);
          if (fresh) await this.reconcile(fresh, lock);
        }
      } finally {
        await lock.release().catch(() => undefined);
      }
    }
  }
}
