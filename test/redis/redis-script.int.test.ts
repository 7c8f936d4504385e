/**
 * RedisScript on the stack's Redis, through an auto-pipelining client as warren's: the script's text is sent again
 * after a SCRIPT FLUSH (as after a Redis restart without persistence), then it runs by its SHA; calls issued in the
 * same turn each get their own answer.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisScript } from '../../src/redis/redis-script.js';

const SOURCE = `return {KEYS[1], ARGV[1], tostring(#ARGV), redis.call('INCR', KEYS[1])}`;
const SCRIPT = new RedisScript(SOURCE);
const SHA = createHash('sha1').update(SOURCE).digest('hex');

describe('RedisScript', () => {
  const stack = inject('stack');
  let redis: Redis;
  const key = `warren-test-script-${process.pid}`;

  beforeAll(() => {
    redis = new Redis(stack.redisUrl, { enableAutoPipelining: true });
  });
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('sends the script again after a SCRIPT FLUSH, then runs it by SHA', async () => {
    await redis.del(key);
    await redis.script('FLUSH');
    expect(await SCRIPT.run(redis, [key], ['a', 'b'])).toEqual([key, 'a', '2', 1]);
    expect(await redis.script('EXISTS', SHA)).toEqual([1]);
    expect(await SCRIPT.run(redis, [key], ['c'])).toEqual([key, 'c', '1', 2]);
  });

  it('answers calls issued together each with its own result', async () => {
    await redis.del(key);
    const answers = (await Promise.all(
      ['p1', 'p2', 'p3'].map((arg) => SCRIPT.run(redis, [key], [arg])),
    )) as unknown[][];
    expect(answers.map((a) => a[1])).toEqual(['p1', 'p2', 'p3']);
    expect(answers.map((a) => a[3]).sort()).toEqual([1, 2, 3]);
  });
});
