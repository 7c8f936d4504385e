/**
 * ChannelPacer on the real Redis: one call per channel per interval across every user of the channel, and when the
 * channel is busy, new posts before edits before thread replies, whoever asks first. Wishes of a waiter that went
 * away lapse, and a blocking claim that gives up takes its wish back.
 */
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChannelPacer, type PaceKind } from '../../src/chat/channel-pacer.js';
import { scratchRedis } from '../support/scratch-redis.js';
import { waitUntil } from '../support/wait-until.js';

describe('ChannelPacer', () => {
  const scratch = scratchRedis('pacer');
  const prefix = scratch.prefix;
  let redis: Redis;
  let channel = 0;
  /** A channel of its own for each test. */
  const fresh = () => `C${++channel}`;

  beforeAll(() => {
    redis = scratch.redis();
  });

  it('lets one call per interval through, to every caller alike', async () => {
    const a = new ChannelPacer(redis, 400, prefix);
    const b = new ChannelPacer(redis, 400, prefix);
    const c = fresh();
    expect(await a.tryClaim(c, 'post', 'm1')).toBe(true);
    expect(await b.tryClaim(c, 'post', 'm2')).toBe(false);
    expect(await a.tryClaim(fresh(), 'post', 'm1')).toBe(true);
    await waitUntil(() => b.tryClaim(c, 'post', 'm2'), 'the slot to come free for the second caller', 5_000);
  });

  it('keeps a free slot for a waiting post from edits and replies, and for a waiting edit from replies', async () => {
    const pacer = new ChannelPacer(redis, 300, prefix);
    const c = fresh();
    expect(await pacer.tryClaim(c, 'reply', 'old')).toBe(true);
    // The slot is taken: the post and the edit leave their wishes.
    expect(await pacer.tryClaim(c, 'post', 'new')).toBe(false);
    expect(await pacer.tryClaim(c, 'edit', 'known')).toBe(false);
    // Once the slot is free, neither the reply nor the edit takes it while the post waits.
    await waitUntil(async () => (await redis.pttl(`${prefix}${c}`)) < 0, 'the slot to lapse', 5_000);
    expect(await pacer.tryClaim(c, 'reply', 'old')).toBe(false);
    expect(await pacer.tryClaim(c, 'edit', 'known')).toBe(false);
    expect(await pacer.tryClaim(c, 'post', 'new')).toBe(true);
    // The post went; now the edit is first in line, ahead of the reply.
    await waitUntil(async () => (await redis.pttl(`${prefix}${c}`)) < 0, 'the slot to lapse', 5_000);
    expect(await pacer.tryClaim(c, 'reply', 'old')).toBe(false);
    expect(await pacer.tryClaim(c, 'edit', 'known')).toBe(true);
    await waitUntil(() => pacer.tryClaim(c, 'reply', 'old'), 'the reply to go last', 5_000);
  });

  it('serves blocking claims by kind, not by who asked first', async () => {
    const pacer = new ChannelPacer(redis, 250, prefix);
    const c = fresh();
    expect(await pacer.tryClaim(c, 'post', 'first')).toBe(true);
    const order: PaceKind[] = [];
    const claim = async (kind: PaceKind) => {
      expect(await pacer.claim(c, kind, `m-${kind}`, 10_000)).toBe(true);
      order.push(kind);
    };
    // Asked for in the worst order: the reply first, the post last.
    await Promise.all([claim('reply'), claim('edit'), claim('post')]);
    expect(order).toEqual(['post', 'edit', 'reply']);
  });

  it('forgets the wish of a waiter that went away, and one whose blocking claim gave up', async () => {
    const pacer = new ChannelPacer(redis, 200, prefix);
    const c = fresh();
    expect(await pacer.tryClaim(c, 'post', 'here')).toBe(true);
    // A waiter that asks once and is never heard of again (its replica died).
    expect(await pacer.tryClaim(c, 'post', 'gone')).toBe(false);
    await waitUntil(async () => (await redis.pttl(`${prefix}${c}`)) < 0, 'the slot to lapse', 5_000);
    expect(await pacer.tryClaim(c, 'edit', 'waits')).toBe(false);
    // Its wish lapses (five seconds at this interval), and then the edit goes without the post ever claiming.
    await waitUntil(() => pacer.tryClaim(c, 'edit', 'waits'), 'the lost post wish to lapse', 10_000);

    const other = fresh();
    expect(await pacer.tryClaim(other, 'reply', 'holder')).toBe(true);
    await redis.pexpire(`${prefix}${other}`, 2_000);
    expect(await pacer.claim(other, 'post', 'impatient', 100)).toBe(false);
    expect(await redis.zcard(`${prefix}${other}:waiting:post`)).toBe(0);
  });

  it('does not pace at all with an interval of 0', async () => {
    const pacer = new ChannelPacer(redis, 0, prefix);
    const c = fresh();
    for (const kind of ['reply', 'reply', 'edit', 'post'] as const)
      expect(await pacer.tryClaim(c, kind, 'x')).toBe(true);
    expect(await redis.exists(`${prefix}${c}`)).toBe(0);
  });
});
