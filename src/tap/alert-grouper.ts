/**
 * Turns routed notifications into grouped Slack messages whose state lives in Redis, so a restart or a second
 * replica neither splits a group nor posts twice.
 *
 * `record` is on the hot path. For each event a Redis script atomically de-duplicates by message id, finds or
 * opens the group's window, counts, remembers hosts/instances/vhosts (capped) and queues a sample for the thread (at most
 * `maxSamples`); the events recorded in one turn of the event loop share one script call. All Slack I/O happens
 * in `flush`: post a new group's message (once, under a lock), edit it in place at most every `updateInterval`, and
 * post the queued samples in its thread, those waiting together in one reply. A burst of 1,000 events is then one
 * message, a few edits and a reply or two.
 */

import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChannelPacer, PaceKind } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import { RedisScriptError } from '../errors.js';
import { RedisLock } from '../redis/redis-lock.js';
import { RedisScript } from '../redis/redis-script.js';
import { type GroupState, renderGroup, renderSample, renderSampleReply, samplesPerReply } from './group-message.js';
import { groupFieldValue, type RouteDecision, type Severity, type TapEvent } from './notification-router.js';

// One call records a batch of events, in order, each exactly as if it were recorded alone. ARGV holds the shared
// settings, then EVENT_ARGS values per event; the reply is one status per event.
const RECORD_SCRIPT = `
local prefix, windowMs, retainMs, dedupMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxSamples = tonumber(ARGV[5])
local results = {}
for base = 5, #ARGV - 1, 15 do
  local messageKey, hash, newId, now = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
  if redis.call('SET', prefix .. 'seen:' .. messageKey, '1', 'NX', 'PX', dedupMs) == false then
    results[#results + 1] = 'dup'
  else
    local activeKey = prefix .. 'active:' .. hash
    local id = redis.call('GET', activeKey)
    local isNew = 0
    if not id then
      id = newId
      redis.call('SET', activeKey, id, 'PX', windowMs)
      isNew = 1
    end
    local g = prefix .. 'group:' .. id
    if isNew == 1 then
      redis.call('HSET', g, 'channel', ARGV[base + 5], 'title', ARGV[base + 6], 'severity', ARGV[base + 7],
        'groupKey', ARGV[base + 8], 'route', ARGV[base + 9], 'cluster', ARGV[base + 10], 'firstSeen', now,
        'count', 0, 'samples', 0)
    end
    redis.call('HINCRBY', g, 'count', 1)
    redis.call('HSET', g, 'lastSeen', now)
    local lastError, host, instance = ARGV[base + 11], ARGV[base + 12], ARGV[base + 13]
    if lastError ~= '' then redis.call('HSET', g, 'lastError', lastError) end
    if host ~= '' and redis.call('SCARD', g .. ':hosts') < 50 then redis.call('SADD', g .. ':hosts', host) end
    if instance ~= '' and redis.call('SCARD', g .. ':instances') < 50 then
      redis.call('SADD', g .. ':instances', instance)
    end
    local vhost = ARGV[base + 15]
    if vhost ~= '' and redis.call('SCARD', g .. ':vhosts') < 50 then redis.call('SADD', g .. ':vhosts', vhost) end
    if redis.call('HINCRBY', g, 'samples', 1) <= maxSamples then
      redis.call('RPUSH', g .. ':pending', ARGV[base + 14])
    end
    for _, k in ipairs({g, g .. ':hosts', g .. ':instances', g .. ':vhosts', g .. ':pending'}) do
      redis.call('PEXPIRE', k, retainMs)
    end
    redis.call('SADD', prefix .. 'dirty', id)
    results[#results + 1] = isNew == 1 and 'new' or 'grouped'
  end
end
return results
`;
const RECORD = new RedisScript(RECORD_SCRIPT);
/** Values per event in a RECORD_SCRIPT call (the `15` in its loop). */
const EVENT_ARGS = 15;
/** Events per script call at most, so that one call never holds Redis for long. */
const MAX_BATCH = 256;
/** Group hashes remembered; a few thousand distinct groups at once is already far beyond what Slack can show. */
const GROUP_HASH_CACHE = 4_096;

interface PendingRecord {
  resolve: (result: RecordResult) => void;
  reject: (error: unknown) => void;
}

export type RecordResult = 'new' | 'grouped' | 'duplicate';

export interface AlertGrouperOptions {
  redis: Redis;
  chat: ChatPort;
  windowMs: number;
  updateIntervalMs: number;
  maxSamples: number;
  dedupTtlMs: number;
  keyPrefix?: string;
  now?: () => number;
  /**
   * The pace of Slack calls per channel, shared with every other sender and replica (Slack allows about one message
   * per second per channel). Work that would exceed it stays queued for a later flush.
   */
  pacer: ChannelPacer;
  /**
   * How long a replica may take to post a new group's message before another may try (the lease of its post lock).
   * Default 30 s: far beyond a Slack call's timeout, so a second post means the first one's replica is gone.
   */
  postLockMs?: number;
  /**
   * Failures during a flush: a Slack call (`slack`), or saving the ts of a message Slack accepted (`redis`). The
   * group stays queued and is retried on the next flush; a message whose ts was not saved is not posted again.
   */
  onError?: (error: unknown, group: GroupState, stage: 'slack' | 'redis') => void;
}

export interface FlushStats {
  posted: number;
  updated: number;
  replies: number;
}

export class AlertGrouper {
  private readonly prefix: string;
  private readonly now: () => number;
  private flushing: Promise<FlushStats> | undefined;
  /** Events waiting for the next record script call: EVENT_ARGS values each, and who waits for each. */
  private batchArgs: string[] = [];
  private batchWaiters: PendingRecord[] = [];
  private batchScheduled = false;
  private readonly groupHashes = new Map<string, string>();
  private readonly pacer: ChannelPacer;
  private readonly postLockMs: number;
  /**
   * Group messages Slack accepted whose ts could not be saved (Redis failed right after): saved by the next flush
   * instead of posting the group again. Only this process knows them; an entry lives until Redis answers.
   */
  private readonly unsaved = new Map<string, { ts: string; count: number }>();

  constructor(private readonly options: AlertGrouperOptions) {
    this.prefix = options.keyPrefix ?? 'warren:tap:';
    this.now = options.now ?? Date.now;
    this.pacer = options.pacer;
    this.postLockMs = options.postLockMs ?? 30_000;
  }

  /**
   * Records one routed event: de-duplicated by message id and route, counted into its group. Events recorded in the
   * same turn of the event loop (a burst arrives many per socket read) go to Redis as one script call, so a burst
   * costs Redis one script run per batch rather than per event; each event is still handled on its own, in order.
   */
  record(event: TapEvent, decision: RouteDecision): Promise<RecordResult> {
    const groupKey = decision.groupBy.map((field) => `${field}=${groupFieldValue(event, field) || '-'}`).join(' ');
    const hash = this.groupHash(`${event.cluster}\0${decision.channel}\0${decision.route}\0${groupKey}`);
    const f = event.facts;
    const error = [f.exception, f.errorMessage].filter(Boolean).join(': ');
    this.batchArgs.push(
      `${event.notification.messageId}:${decision.route}`,
      hash,
      randomUUID(),
      String(this.now()),
      decision.channel,
      decision.title,
      decision.severity,
      groupKey,
      decision.route,
      event.cluster,
      error,
      f.host ?? '',
      f.instanceId ?? '',
      renderSample(event),
      event.vhost ?? '',
    );
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      process.nextTick(() => this.sendBatch());
    }
    return new Promise((resolve, reject) => this.batchWaiters.push({ resolve, reject }));
  }

  /**
   * The group's key in Redis: a hash of cluster, channel, route and group key. A burst repeats a handful of groups,
   * and a node Hash object costs microseconds to create, so recent hashes are remembered (bounded, then forgotten).
   */
  private groupHash(identity: string): string {
    let hash = this.groupHashes.get(identity);
    if (hash === undefined) {
      if (this.groupHashes.size >= GROUP_HASH_CACHE) this.groupHashes.clear();
      hash = createHash('sha1').update(identity).digest('hex');
      this.groupHashes.set(identity, hash);
    }
    return hash;
  }

  private sendBatch(): void {
    this.batchScheduled = false;
    const args = this.batchArgs;
    const waiters = this.batchWaiters;
    this.batchArgs = [];
    this.batchWaiters = [];
    for (let start = 0; start < waiters.length; start += MAX_BATCH) {
      const chunk = waiters.slice(start, start + MAX_BATCH);
      void this.recordBatch(args.slice(start * EVENT_ARGS, (start + chunk.length) * EVENT_ARGS), chunk);
    }
  }

  private async recordBatch(eventArgs: string[], waiters: PendingRecord[]): Promise<void> {
    const { windowMs, updateIntervalMs, dedupTtlMs, maxSamples } = this.options;
    const args = [
      this.prefix,
      String(windowMs),
      String(windowMs + updateIntervalMs + 3_600_000),
      String(dedupTtlMs),
      String(maxSamples),
      ...eventArgs,
    ];
    let results: unknown;
    try {
      results = await this.evalRecord(args);
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    if (!Array.isArray(results) || results.length !== waiters.length) {
      const answered = Array.isArray(results) ? `${results.length} results` : typeof results;
      const error = new RedisScriptError(`tap record script answered ${waiters.length} events with ${answered}`);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    waiters.forEach((waiter, i) => {
      const outcome = results[i];
      waiter.resolve(outcome === 'dup' ? 'duplicate' : (outcome as RecordResult));
    });
  }

  private evalRecord(args: string[]): Promise<unknown> {
    return RECORD.run(this.options.redis, [], args);
  }

  async group(id: string): Promise<GroupState | undefined> {
    const g = `${this.prefix}group:${id}`;
    const [hash, hosts, instances, vhosts] = await Promise.all([
      this.options.redis.hgetall(g),
      this.options.redis.smembers(`${g}:hosts`),
      this.options.redis.smembers(`${g}:instances`),
      this.options.redis.smembers(`${g}:vhosts`),
    ]);
    if (!hash.channel) return undefined;
    return {
      id,
      channel: hash.channel,
      title: hash.title ?? '',
      severity: (hash.severity as Severity) ?? 'info',
      groupKey: hash.groupKey ?? '',
      route: hash.route ?? '',
      cluster: hash.cluster ?? '',
      count: Number(hash.count ?? 0),
      firstSeen: Number(hash.firstSeen ?? 0),
      lastSeen: Number(hash.lastSeen ?? 0),
      lastError: hash.lastError,
      ts: hash.ts,
      hosts: hosts.sort(),
      instances: instances.sort(),
      vhosts: vhosts.sort(),
    };
  }

  /** Posts, edits and threads what `record` queued. Concurrent calls share one run. */
  flush(): Promise<FlushStats> {
    if (!this.flushing) {
      this.flushing = this.flushOnce().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private async flushOnce(): Promise<FlushStats> {
    const { redis, chat, updateIntervalMs } = this.options;
    const stats: FlushStats = { posted: 0, updated: 0, replies: 0 };
    const popped = (await redis.spop(`${this.prefix}dirty`, 200)) as string[];
    const ids = [...new Set([...this.unsaved.keys(), ...popped])];
    const later: string[] = [];
    const loaded: { id: string; group: GroupState }[] = [];
    for (const id of ids) {
      const group = await this.group(id);
      if (group) loaded.push({ id, group });
      else this.unsaved.delete(id);
    }
    // New groups first, then edits, then thread samples (second pass): when the channel is busy, the first post of
    // a new problem goes ahead of news about known ones. The pacer keeps that order across replicas and producers.
    const known = (entry: { id: string; group: GroupState }) => Boolean(entry.group.ts || this.unsaved.has(entry.id));
    loaded.sort((a, b) => Number(known(a)) - Number(known(b)));
    const threads: { id: string; group: GroupState; ts: string }[] = [];
    for (const { id, group } of loaded) {
      const g = `${this.prefix}group:${id}`;
      let ts = group.ts;
      const unsaved = ts ? undefined : this.unsaved.get(id);
      if (unsaved) {
        try {
          await redis.hset(g, 'ts', unsaved.ts, 'postedCount', String(unsaved.count), 'updatedAt', String(this.now()));
        } catch (error) {
          this.options.onError?.(error, group, 'redis');
          continue;
        }
        this.unsaved.delete(id);
        ts = unsaved.ts;
      }
      if (!ts) {
        // Another replica may be posting this group right now; it keeps the group dirty until it has a ts. Only the
        // holder's token releases the lock: a post that outlived its lease must not free another replica's.
        const lock = await RedisLock.acquire(redis, `${g}:lock`, this.postLockMs);
        if (!lock) {
          later.push(id);
          continue;
        }
        if (!(await this.paced(group.channel, 'post', id))) {
          await lock.release();
          later.push(id);
          continue;
        }
        try {
          ts = (await chat.post(group.channel, renderGroup(group))).ts;
        } catch (error) {
          // Kept dirty: the next flush tries again; nothing recorded is lost while Slack is unreachable.
          later.push(id);
          await lock.release();
          await this.failed(error, group);
          continue;
        }
        stats.posted++;
        try {
          // The lock is left to lapse, not released: a replica that read the group before this save must not find
          // it free and post the group again.
          await redis.hset(g, 'ts', ts, 'postedCount', String(group.count), 'updatedAt', String(this.now()));
        } catch (error) {
          // The lock keeps other replicas from posting it meanwhile; edits and replies wait for the save.
          this.unsaved.set(id, { ts, count: group.count });
          this.options.onError?.(error, group, 'redis');
          continue;
        }
      } else {
        const [postedCount, updatedAt] = await redis.hmget(g, 'postedCount', 'updatedAt');
        if (Number(postedCount) !== group.count) {
          if (
            this.now() - Number(updatedAt ?? 0) < updateIntervalMs ||
            !(await this.paced(group.channel, 'edit', id))
          ) {
            later.push(id);
          } else {
            try {
              await chat.update(group.channel, ts, renderGroup(group));
              await redis.hset(g, 'postedCount', String(group.count), 'updatedAt', String(this.now()));
              stats.updated++;
            } catch (error) {
              later.push(id);
              await this.failed(error, group);
              continue;
            }
          }
        }
      }
      threads.push({ id, group, ts });
    }
    const { maxSamples } = this.options;
    for (const { id, group, ts } of threads) {
      const g = `${this.prefix}group:${id}`;
      try {
        // The samples waiting go in one reply (several if they are long), so a busy channel spends one slot per
        // group on them. Read, post, then remove: a failed post leaves them queued for the next flush, and a
        // sample recorded meanwhile stays behind the ones posted.
        for (;;) {
          // Read together, so that no event is recorded between the two.
          const [[, pending], [, counted]] = (await redis
            .multi()
            .lrange(`${g}:pending`, 0, -1)
            .hget(g, 'samples')
            .exec()) as [[unknown, string[]], [unknown, string | null]];
          if (pending.length === 0) break;
          if (!(await this.paced(group.channel, 'reply', id))) {
            later.push(id);
            break;
          }
          const n = samplesPerReply(pending);
          // Past the cap no sample is queued any more: a reply that empties the list then shows the last one.
          const samples = Number(counted ?? 0);
          const last = n === pending.length && samples >= maxSamples;
          await chat.post(
            group.channel,
            { text: renderSampleReply(pending.slice(0, n), last ? { maxSamples, count: samples } : undefined) },
            { threadTs: ts },
          );
          await redis.ltrim(`${g}:pending`, n, -1);
          stats.replies++;
        }
      } catch (error) {
        later.push(id);
        await this.failed(error, group);
      }
    }
    if (later.length > 0) await redis.sadd(`${this.prefix}dirty`, ...new Set(later));
    return stats;
  }

  /** After a failed Slack call the channel is held back (see ChannelPacer.holdAfter) and the group stays queued. */
  private async failed(error: unknown, group: GroupState): Promise<void> {
    await this.pacer.holdAfter(group.channel, error);
    this.options.onError?.(error, group, 'slack');
  }

  /**
   * True when a Slack call of `kind` about group `id` may go now: the channel's slot is shared with every replica
   * and with health alerts and runs, new posts first (ChannelPacer).
   */
  private paced(channel: string, kind: PaceKind, id: string): Promise<boolean> {
    return this.pacer.tryClaim(channel, kind, `group:${id}`);
  }

  /** Ids of groups with work pending, for status and tests. */
  async pending(): Promise<number> {
    return this.options.redis.scard(`${this.prefix}dirty`);
  }
}
