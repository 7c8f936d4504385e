/**
 * A lease in Redis that one process holds at a time (SET NX PX with a random token), released or extended only by
 * its holder (compare-and-delete / compare-and-expire scripts), so a holder whose lease ran out cannot release
 * someone else's. Used where replicas must not do the same work twice: a cluster's sweep, a workflow run, the first
 * post of a tap group's message.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';

const RELEASE = new RedisScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`,
);
const EXTEND = new RedisScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`,
);

export class RedisLock {
  private readonly token = randomUUID();

  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** The lock when it was free, undefined when someone else holds it. */
  static async acquire(redis: Redis, key: string, ttlMs: number): Promise<RedisLock | undefined> {
    const lock = new RedisLock(redis, key, ttlMs);
    const ok = await redis.set(key, lock.token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? lock : undefined;
  }

  /** Renews the lease; false when it was lost (expired and taken, or released). */
  async extend(): Promise<boolean> {
    return (await EXTEND.run(this.redis, [this.key], [this.token, String(this.ttlMs)])) === 1;
  }

  async release(): Promise<void> {
    await RELEASE.run(this.redis, [this.key], [this.token]);
  }
}
