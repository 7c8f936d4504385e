/**
 * A Lua script run by its SHA1 (EVALSHA), its text sent (EVAL) only when Redis does not know it: on first use, after
 * a restart or a SCRIPT FLUSH. ioredis' defineCommand does the same per connection, but under auto-pipelining it
 * sees each pipeline as a new connection and sends the whole script text with every batch. For the scripts that run
 * on every event or every Slack call (the tap's record, the pacer's claim).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return await redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
