/**
 * Turns routed notifications into grouped Slack messages whose state lives in Redis, so a restart or a second
 * replica neither splits a group nor posts twice.
 *
 * `record` is on the hot path. For each event a Redis script atomically de-duplicates by message id, finds or
 * opens the group's window, counts, remembers hosts/instances/vhosts (capped), marks the group's message in the
 * Slack outbox as changed and queues a sample for its thread there (at most `maxSamples`); the events recorded in
 * one turn of the event loop share one script call. All Slack I/O is the outbox's (`src/chat/slack-outbox.ts`),
 * which `flush` drives: a new group's message posted once, edited in place at most every `updateInterval`, the
 * queued samples in its thread, those waiting together in one reply. A burst of 1,000 events is then one message, a
 * few edits and a reply or two.
 */

import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import { SlackOutbox } from '../chat/slack-outbox.js';
import { RedisScriptError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import { RedisScript } from '../redis/redis-script.js';
import { type GroupState, renderGroup, renderSample, renderSampleReply, samplesPerReply } from './group-message.js';
import { groupFieldValue, type RouteDecision, type Severity, type TapEvent } from './notification-router.js';

// One call records a batch of events, in order, leaving what recording each alone would leave; what only the last
// event of a group decides (its lastSeen, the keys' expiry, the outbox entry) is written once per group at the end.
// ARGV holds the shared settings, then EVENT_ARGS values per event; the reply is one status per event.
const RECORD_SCRIPT = `
local prefix, windowMs, retainMs, dedupMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxSamples = tonumber(ARGV[5])
local results = {}
local lastSeen = {}
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
        'count', 0)
    end
    redis.call('HINCRBY', g, 'count', 1)
    lastSeen[id] = now
    local lastError, host, instance = ARGV[base + 11], ARGV[base + 12], ARGV[base + 13]
    if lastError ~= '' then redis.call('HSET', g, 'lastError', lastError) end
    if host ~= '' and redis.call('SCARD', g .. ':hosts') < 50 then redis.call('SADD', g .. ':hosts', host) end
    if instance ~= '' and redis.call('SCARD', g .. ':instances') < 50 then
      redis.call('SADD', g .. ':instances', instance)
    end
    local vhost = ARGV[base + 15]
    if vhost ~= '' and redis.call('SCARD', g .. ':vhosts') < 50 then redis.call('SADD', g .. ':vhosts', vhost) end
    -- The group's message in the outbox (SlackOutbox's keys): changed, and a sample for its thread up to the cap.
    local o = prefix .. 'outbox:' .. id
    redis.call('HINCRBY', o, 'version', 1)
    if redis.call('HINCRBY', o, 'offered', 1) <= maxSamples then
      redis.call('RPUSH', o .. ':replies', ARGV[base + 14])
    end
    results[#results + 1] = isNew == 1 and 'new' or 'grouped'
  end
end
-- Once per group of the call, not per event: a burst's events share a handful of groups.
for id, now in pairs(lastSeen) do
  local g, o = prefix .. 'group:' .. id, prefix .. 'outbox:' .. id
  redis.call('HSET', g, 'lastSeen', now)
  for _, k in ipairs({g, g .. ':hosts', g .. ':instances', g .. ':vhosts', o, o .. ':replies'}) do
    redis.call('PEXPIRE', k, retainMs)
  end
  redis.call('SADD', prefix .. 'outbox', id)
end
return results
`;
const RECORD = new RedisScript(RECORD_SCRIPT);

/**
 * Groups an earlier warren left queued its own way (a `dirty` set, samples in `group:<id>:pending`), handed to the
 * outbox: so an upgrade in the middle of an incident loses neither a group's last edit nor its waiting samples.
 * ARGV: prefix, retention in ms, how many groups at most. Answers how many it took from the set.
 */
const ADOPT = new RedisScript(`
local prefix, retainMs = ARGV[1], tonumber(ARGV[2])
local ids = redis.call('SPOP', prefix .. 'dirty', tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local g = prefix .. 'group:' .. id
  if redis.call('EXISTS', g) == 1 then
    local o = prefix .. 'outbox:' .. id
    for _, sample in ipairs(redis.call('LRANGE', g .. ':pending', 0, -1)) do
      redis.call('RPUSH', o .. ':replies', sample)
    end
    redis.call('DEL', g .. ':pending')
    redis.call('HINCRBY', o, 'version', 1)
    local samples = redis.call('HGET', g, 'samples')
    if samples then redis.call('HSETNX', o, 'offered', samples) end
    redis.call('PEXPIRE', o, retainMs)
    if redis.call('EXISTS', o .. ':replies') == 1 then redis.call('PEXPIRE', o .. ':replies', retainMs) end
    redis.call('SADD', prefix .. 'outbox', id)
  end
end
return #ids
`);
/** Values per event in a RECORD_SCRIPT call (the `15` in its loop). */
const EVENT_ARGS = 15;
/** Events per script call at most, so that one call never holds Redis for long. */
const MAX_BATCH = 256;
/** Group hashes remembered; a few thousand distinct groups at once is already far beyond what Slack can show. */
const GROUP_HASH_CACHE = 4_096;
/** Group messages one flush delivers at most (new ones first); the next flush, a moment later, takes the rest. */
const FLUSH_BATCH = 200;
/** Groups ADOPT takes per call; fewer taken means the old set is empty. */
const ADOPT_BATCH = 200;

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
   * How long a replica may deliver a group's message before another may take it over (the outbox's lease). Default
   * 30 s: far beyond a Slack call's timeout, so a second post means the first one's replica is gone.
   */
  postLockMs?: number;
  /**
   * Failures during a flush: a Slack call (`slack`), or Redis (`redis`, e.g. saving the ts of a message Slack
   * accepted). The group stays queued and is retried on the next flush; a message whose ts was not saved is not
   * posted again. The outbox logs each.
   */
  onError?: (error: unknown, groupId: string, stage: 'slack' | 'redis') => void;
  logger?: Logger;
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
  private readonly outbox: SlackOutbox;
  /** What the flush under way did, counted from the outbox's calls. */
  private stats: FlushStats = { posted: 0, updated: 0, replies: 0 };
  /** Until an older warren's queued groups are all taken over: a one-time step, not one for every flush. */
  private adopting = true;

  constructor(private readonly options: AlertGrouperOptions) {
    this.prefix = options.keyPrefix ?? 'warren:tap:';
    this.now = options.now ?? Date.now;
    const { redis, maxSamples } = options;
    this.outbox = new SlackOutbox({
      redis,
      chat: options.chat,
      pacer: options.pacer,
      logger: options.logger ?? createLogger('silent'),
      now: this.now,
      // RECORD_SCRIPT writes these keys too: `<prefix>outbox` is the pending set, `<prefix>outbox:<id>` a message.
      prefix: `${this.prefix}outbox`,
      kind: 'group',
      retentionS: Math.ceil(this.retainMs() / 1000),
      leaseMs: options.postLockMs ?? 30_000,
      // The flush never waits for a busy channel: what cannot go now goes on a later flush, new groups first.
      paceWaitMs: 0,
      editGapMs: options.updateIntervalMs,
      // The samples waiting go in one reply (several if they are long), so a busy channel spends one slot per
      // group on them; past the cap none is queued any more, and the reply that empties the list says so.
      packReplies: (queued, offered) => {
        const take = samplesPerReply(queued);
        const last = take === queued.length && offered >= maxSamples;
        return {
          take,
          text: renderSampleReply(queued.slice(0, take), last ? { maxSamples, count: offered } : undefined),
        };
      },
      source: {
        view: async (id) => {
          const group = await this.group(id);
          // A group posted before the outbox kept its ts has it in its own hash.
          return (
            group && { channel: group.channel, message: renderGroup(group), ...(group.ts ? { ts: group.ts } : {}) }
          );
        },
        // Kept in the group too, for `group()` (status, tests) and the view above.
        posted: async (id, posted) => {
          const g = `${this.prefix}group:${id}`;
          // With the group's expiry: a group that lapsed meanwhile must not come back as a hash that never expires.
          await redis.multi().hset(g, 'ts', posted.ts).pexpire(g, this.retainMs()).exec();
        },
      },
      onCall: (action) => {
        if (action === 'post') this.stats.posted++;
        else if (action === 'update') this.stats.updated++;
        else if (action === 'reply') this.stats.replies++;
      },
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** How long a group's keys live after its last event: its window, an edit's gap, and an hour to deliver. */
  private retainMs(): number {
    return this.options.windowMs + this.options.updateIntervalMs + 3_600_000;
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
    const { windowMs, dedupTtlMs, maxSamples } = this.options;
    const args = [
      this.prefix,
      String(windowMs),
      String(this.retainMs()),
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

  /**
   * Delivers the group messages with work pending, new groups first: when a channel is busy, the first post of a
   * new problem goes ahead of news about known ones, and the pacer keeps edits ahead of thread samples, across
   * replicas and producers. A call whose channel slot is taken is left for a later flush.
   */
  private async flushOnce(): Promise<FlushStats> {
    const { redis } = this.options;
    this.stats = { posted: 0, updated: 0, replies: 0 };
    if (this.adopting) {
      const taken = await ADOPT.run(redis, [], [this.prefix, String(this.retainMs()), String(ADOPT_BATCH)]);
      if (Number(taken) < ADOPT_BATCH) this.adopting = false;
    }
    const ids = await this.outbox.pending();
    const posted = await Promise.all(ids.map((id) => redis.hexists(`${this.prefix}group:${id}`, 'ts')));
    const order = ids.map((id, i) => ({ id, known: posted[i] })).sort((a, b) => a.known - b.known);
    for (const { id } of order.slice(0, FLUSH_BATCH)) await this.outbox.deliver(id);
    return this.stats;
  }

  /** Ids of groups with work pending, for status and tests. */
  async pending(): Promise<number> {
    return this.options.redis.scard(`${this.prefix}outbox`);
  }
}
