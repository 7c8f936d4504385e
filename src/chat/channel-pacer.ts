/**
 * Slack allows about one message per second per channel. The pacer hands out that budget across every replica:
 * a Slack call to a channel first claims the channel's slot in Redis (SET NX with the interval as expiry). After a
 * failed call the channel is held back longer (5 s, or the Retry-After Slack sent), so an outage is retried calmly.
 */
import type { Redis } from 'ioredis';

export const SLACK_PACE_PREFIX = 'warren:slack:pace:';

export class ChannelPacer {
  constructor(
    private readonly redis: Redis,
    private readonly intervalMs: number,
    private readonly prefix = SLACK_PACE_PREFIX,
  ) {}

  /** True when a call to `channel` may go now; the slot is then taken for everyone. */
  async tryClaim(channel: string): Promise<boolean> {
    if (this.intervalMs <= 0) return true;
    return (await this.redis.set(`${this.prefix}${channel}`, '1', 'PX', this.intervalMs, 'NX')) === 'OK';
  }

  /** Waits for the channel's slot, up to `timeoutMs`; false when it did not come in time. */
  async claim(channel: string, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.tryClaim(channel)) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      const ttl = await this.redis.pttl(`${this.prefix}${channel}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, Math.max(10, ttl))));
    }
  }

  /** Holds the channel back after a failed call, for `retryDelayMs(error)`. */
  async holdAfter(channel: string, error: unknown): Promise<void> {
    await this.redis.set(`${this.prefix}${channel}`, '1', 'PX', retryDelayMs(error)).catch(() => undefined);
  }
}

/** How long to wait after a failed Slack call: `error.retryAfter` (seconds, from Slack's 429) when given, else 5 s. */
export function retryDelayMs(error: unknown): number {
  const retryAfter = Number((error as { retryAfter?: unknown })?.retryAfter);
  return Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 5_000;
}
