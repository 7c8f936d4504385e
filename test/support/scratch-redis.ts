/**
 * A connection to the stack's Redis for one describe block, under a key prefix of its own: opened before the
 * block's tests, its keys deleted and the connection closed after them, so that files sharing the stack's Redis
 * never see each other's keys. Call it inside `describe`.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';

export function scratchRedis(name: string): { prefix: string; redis: () => Redis } {
  const stack = inject('stack');
  const prefix = `test:${name}:${randomUUID().slice(0, 8)}:`;
  let client: Redis | undefined;
  beforeAll(() => {
    client = new Redis(stack.redisUrl);
  });
  afterAll(async () => {
    if (!client) return;
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });
  return {
    prefix,
    redis: () => {
      if (!client) throw new Error('scratchRedis: used outside the tests of its describe block');
      return client;
    },
  };
}
