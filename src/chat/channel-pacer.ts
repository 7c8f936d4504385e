/**
 * Slack allows about one message per second per channel. The pacer hands out that budget across every replica:
 * a Slack call to a channel first claims the channel's slot in Redis (SET NX with the interval as expiry). After a
 * failed call the channel is held back longer (5 s, or the Retry-After Slack sent), so an outage is retried calmly.
 *
 * When the channel is busy, what is new goes first: a new top-level message (a new tap group, a new alert, a run
 * request) ahead of edits of messages already there, and edits ahead of thread replies. A caller that finds the
 * slot taken leaves its name in the channel's waiting set of its kind (a sorted set scored by when the wish lapses,
 * so a replica that died waiting blocks nobody for long), and a call of a lower kind does not take a free slot while
 * someone of a higher kind waits. Nothing is dropped: a lower kind only waits longer, and the blocking `claim` of
 * the alert and run messengers gives up waiting after its timeout and calls anyway.
 */
import type { Redis } from 'ioredis';
import { RedisScript } from '../redis/redis-script.js';

export const SLACK_PACE_PREFIX = 'warren:slack:pace:';

/** What a Slack call does to the channel, highest priority first. */
export type PaceKind = 'post' | 'edit' | 'reply';
const RANK: Record<PaceKind, number> = { post: 0, edit: 1, reply: 2 };

/** How long a waiting wish stays without being renewed: the tap's flush comes back to it within that. */
const MIN_WISH_MS = 5_000;

/**
 * KEYS: the slot, the waiting posts, the waiting edits. ARGV: interval, rank, waiter, wish ttl. 1 when the slot was
 * taken. Redis's own clock scores the wishes: replicas' clocks may differ.
 */
const CLAIM = new RedisScript(`
local slot, posts, edits = KEYS[1], KEYS[2], KEYS[3]
local interval, rank, waiter, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', posts, '-inf', now)
redis.call('ZREMRANGEBYSCORE', edits, '-inf', now)
local ahead = 0
if rank >= 1 then ahead = ahead + redis.call('ZCARD', posts) end
if rank >= 2 then ahead = ahead + redis.call('ZCARD', edits) end
local own = nil
if rank == 0 then own = posts elseif rank == 1 then own = edits end
if ahead == 0 and redis.call('SET', slot, '1', 'PX', interval, 'NX') then
  if own then redis.call('ZREM', own, waiter) end
  return 1
end
if own then
  redis.call('ZADD', own, now + ttl, waiter)
  redis.call('PEXPIRE', own, ttl)
end
return 0
`);

export class ChannelPacer {
  private readonly wishMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly intervalMs: number,
    private readonly prefix = SLACK_PACE_PREFIX,
  ) {
    this.wishMs = Math.max(MIN_WISH_MS, 3 * intervalMs);
  }

  /**
   * True when a call of `kind` to `channel` may go now; the slot is then taken for everyone. `waiter` names the
   * message (e.g. `group:<id>`), so that asking again renews one wish instead of adding another.
   */
  async tryClaim(channel: string, kind: PaceKind, waiter: string): Promise<boolean> {
    if (this.intervalMs <= 0) return true;
    const key = this.slot(channel);
    const claimed = await CLAIM.run(
      this.redis,
      [key, this.waiting(channel, 'post'), this.waiting(channel, 'edit')],
      [String(this.intervalMs), String(RANK[kind]), waiter, String(this.wishMs)],
    );
    return claimed === 1;
  }

  /**
   * Waits for the channel's slot, up to `timeoutMs`; false when it did not come in time, and the wish is then
   * withdrawn (the caller goes ahead regardless, or gives up).
   */
  async claim(channel: string, kind: PaceKind, waiter: string, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.tryClaim(channel, kind, waiter)) return true;
      const left = deadline - Date.now();
      if (left <= 0) {
        if (kind !== 'reply') await this.redis.zrem(this.waiting(channel, kind), waiter).catch(() => undefined);
        return false;
      }
      // Free but held for a higher kind: look again soon rather than at the slot's expiry.
      const ttl = await this.redis.pttl(this.slot(channel));
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, ttl > 0 ? Math.max(10, ttl) : 100)));
    }
  }

  /** Holds the channel back after a failed call, for `retryDelayMs(error)`. */
  async holdAfter(channel: string, error: unknown): Promise<void> {
    await this.redis.set(this.slot(channel), '1', 'PX', retryDelayMs(error)).catch(() => undefined);
  }

  private slot(channel: string): string {
    return `${this.prefix}${channel}`;
  }

  /** The sorted set of those waiting to make a call of `kind` to `channel`. */
  private waiting(channel: string, kind: Exclude<PaceKind, 'reply'>): string {
    return `${this.slot(channel)}:waiting:${kind}`;
  }
}

/** Whether a Slack call failed with a 429 (the Web API client's rate-limited error, which carries Retry-After). */
export function isRateLimited(error: unknown): boolean {
  return (error as { code?: unknown })?.code === 'slack_webapi_rate_limited_error';
}

/** How long to wait after a failed Slack call: `error.retryAfter` (seconds, from Slack's 429) when given, else 5 s. */
export function retryDelayMs(error: unknown): number {
  const retryAfter = Number((error as { retryAfter?: unknown })?.retryAfter);
  return Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 5_000;
}
