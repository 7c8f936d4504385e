/**
 * AlertGrouper.record on the real Redis: events recorded in one turn go to Redis as one script call, and a batch
 * leaves Redis exactly as recording the same events one at a time does (de-duplication, grouping, counts, capped
 * hosts/instances/samples). Also: the script is loaded again when Redis has forgotten it, and a group message Slack
 * accepted just before Redis died is saved afterwards, not posted again.
 */

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { AlertGrouper, type AlertGrouperOptions, type RecordResult } from '../../src/tap/alert-grouper.js';
import type { RouteDecision, TapEvent } from '../../src/tap/notification-router.js';
import { type AofRedis, startAofRedis } from '../support/aof-redis.js';
import { scratchRedis } from '../support/scratch-redis.js';
import { waitUntil } from '../support/wait-until.js';

const chat: ChatPort = {
  post: async (channel) => ({ channel, ts: '1' }),
  update: async () => undefined,
};

const errors: RouteDecision = {
  route: 'errors',
  channel: 'C0ALERTS',
  severity: 'error',
  title: 'create failed',
  groupBy: ['eventType', 'host'],
};
const everything: RouteDecision = { ...errors, route: 'all', channel: 'C0ALL', groupBy: ['eventType'] };

function event(messageId: string, host: string, instance: string): TapEvent {
  return {
    cluster: 'prod',
    exchange: 'nova',
    routingKey: 'notifications.error',
    notification: {
      messageId,
      publisherId: `compute.${host}`,
      eventType: 'compute.instance.create.error',
      priority: 'ERROR',
      payload: {},
      timestamp: '2026-11-22 13:23:30.497700',
      timestampMs: 0,
      envelopeVersion: 2,
      context: {},
      raw: {},
    },
    facts: { service: 'compute', host, instanceId: instance, exception: 'RescheduledException' },
  };
}

/**
 * A burst over three hosts: redeliveries (same message id), one event routed twice, and one group with more
 * instances than the 50 kept, so every branch of the script is taken.
 */
function burst(): Array<[TapEvent, RouteDecision]> {
  const out: Array<[TapEvent, RouteDecision]> = [];
  for (let i = 0; i < 90; i++) {
    const host = ['cmp-01', 'cmp-02', 'cmp-03'][i % 3] as string;
    out.push([event(`m-${i}`, host, `i-${i}`), errors]);
    if (i % 10 === 0) out.push([event(`m-${i}`, host, `i-${i}`), errors]);
    if (i % 30 === 0) out.push([event(`m-${i}`, host, `i-${i}`), everything]);
  }
  for (let i = 0; i < 60; i++) out.push([event(`wide-${i}`, 'cmp-09', `wide-i-${i}`), errors]);
  return out;
}

describe('AlertGrouper.record', () => {
  const stack = inject('stack');
  const run = randomUUID().slice(0, 8);
  let redis: Redis;
  let evalshaCalls = 0;

  const grouper = (name: string) =>
    new AlertGrouper({
      redis,
      pacer: new ChannelPacer(redis, 1_000),
      chat,
      windowMs: 600_000,
      updateIntervalMs: 1_000,
      maxSamples: 5,
      dedupTtlMs: 3_600_000,
      keyPrefix: `test:grouper:${run}:${name}:`,
      now: () => 1_795_000_000_000,
    });

  /** Everything recorded under a prefix, with group ids replaced by group keys (ids are random). */
  async function state(name: string) {
    const prefix = `test:grouper:${run}:${name}:`;
    const groups: Record<string, unknown> = {};
    for (const active of await redis.keys(`${prefix}active:*`)) {
      const id = (await redis.get(active)) as string;
      const g = `${prefix}group:${id}`;
      const hash = await redis.hgetall(g);
      // The group's message in the Slack outbox: how many samples were offered, those queued for the thread, and
      // whether it is pending delivery.
      const message = `${prefix}outbox:${id}`;
      groups[`${hash.route} ${hash.groupKey}`] = {
        hash,
        hosts: (await redis.smembers(`${g}:hosts`)).sort(),
        instances: (await redis.smembers(`${g}:instances`)).length,
        message: await redis.hgetall(message),
        pending: await redis.lrange(`${message}:replies`, 0, -1),
        dirty: await redis.sismember(`${prefix}outbox`, id),
        // Every key of the group that exists expires (after the retention): none is left to live for good.
        unexpiring: (
          await Promise.all(
            [g, `${g}:hosts`, `${g}:instances`, `${g}:vhosts`, message, `${message}:replies`].map(
              async (key) => [key.slice(prefix.length), await redis.pttl(key)] as const,
            ),
          )
        )
          .filter(([, ttl]) => ttl === -1)
          .map(([key]) => key),
      };
    }
    return { groups, seen: (await redis.keys(`${prefix}seen:*`)).sort().map((k) => k.slice(prefix.length)) };
  }

  beforeAll(() => {
    redis = new Redis(stack.redisUrl, { enableAutoPipelining: true });
    const evalsha = redis.evalsha.bind(redis);
    redis.evalsha = ((...args: Parameters<typeof evalsha>) => {
      evalshaCalls++;
      return evalsha(...args);
    }) as typeof redis.evalsha;
  });

  afterAll(async () => {
    const keys = await redis.keys(`test:grouper:${run}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('records a burst in one script call, exactly as recording one event at a time would', async () => {
    const events = burst();
    const batched = grouper('batched');
    const before = evalshaCalls;
    const together = await Promise.all(events.map(([e, d]) => batched.record(e, d)));
    expect(evalshaCalls - before).toBe(1);

    const single = grouper('single');
    const oneByOne: RecordResult[] = [];
    for (const [e, d] of events) oneByOne.push(await single.record(e, d));
    expect(evalshaCalls - before).toBe(1 + events.length);

    expect(together).toEqual(oneByOne);
    const recorded = await state('batched');
    expect(recorded).toEqual(await state('single'));

    // And what that state is: four groups under `errors`, one under `all`; redeliveries counted once.
    expect(together.filter((r) => r === 'new')).toHaveLength(5);
    expect(together.filter((r) => r === 'duplicate')).toHaveLength(9);
    const wide = recorded.groups['errors eventType=compute.instance.create.error host=cmp-09'] as {
      hash: Record<string, string>;
      message: Record<string, string>;
      instances: number;
      pending: string[];
    };
    expect(wide.hash).toMatchObject({ count: '60', lastError: 'RescheduledException', lastSeen: '1795000000000' });
    for (const group of Object.values(recorded.groups)) expect(group).toMatchObject({ dirty: 1, unexpiring: [] });
    expect(wide.message).toMatchObject({ offered: '60' });
    expect(wide.instances).toBe(50);
    expect(wide.pending).toHaveLength(5);
    expect(wide.pending[0]).toContain('message_id `wide-0`');
    expect(recorded.groups['all eventType=compute.instance.create.error']).toMatchObject({
      hash: { count: '3', channel: 'C0ALL' },
      hosts: ['cmp-01'],
    });
  });

  it('splits a turn with more events than one script call takes', async () => {
    const many = grouper('many');
    const before = evalshaCalls;
    const results = await Promise.all(
      Array.from({ length: 600 }, (_, i) => many.record(event(`many-${i}`, 'cmp-01', `i-${i}`), errors)),
    );
    expect(evalshaCalls - before).toBe(3);
    expect(results.filter((r) => r === 'new')).toHaveLength(1);
    expect(results.filter((r) => r === 'grouped')).toHaveLength(599);
    const groups = Object.values((await state('many')).groups) as Array<{ hash: Record<string, string> }>;
    expect(groups.map((g) => g.hash.count)).toEqual(['600']);
  });

  it('loads the script again when Redis has forgotten it', async () => {
    const forgetful = grouper('forgetful');
    await forgetful.record(event('f-1', 'cmp-01', 'i-1'), errors);
    await redis.script('FLUSH');
    expect(await forgetful.record(event('f-2', 'cmp-01', 'i-2'), errors)).toBe('grouped');
    expect(await forgetful.record(event('f-2', 'cmp-01', 'i-2'), errors)).toBe('duplicate');
  });
});

describe('AlertGrouper.flush when Redis dies right after Slack accepted a group message', () => {
  let aof: AofRedis | undefined;
  let redis: Redis | undefined;

  afterAll(async () => {
    redis?.disconnect();
    await aof?.remove();
  });

  it('saves the message ts once Redis is back and edits that message instead of posting the group again', async () => {
    aof = await startAofRedis();
    const crashing = aof;
    // As warren connects: no offline queue, one retry, so a command fails while Redis is down.
    const client = new Redis(crashing.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis = client;
    client.on('error', () => undefined);
    const connected = async () => (await client.ping().catch(() => undefined)) === 'PONG';
    await waitUntil(connected, 'the client to connect');
    const messages: string[] = [];
    const updates: string[] = [];
    const shown: string[] = [];
    let crashOnPost = true;
    const chat: ChatPort = {
      post: async (channel, _message, options) => {
        if (options?.threadTs) return { channel, ts: `${options.threadTs}-reply` };
        messages.push(channel);
        if (crashOnPost) {
          crashOnPost = false;
          await crashing.kill();
        }
        return { channel, ts: `ts-${messages.length}` };
      },
      update: async (_channel, ts, message) => {
        updates.push(ts);
        shown.push(message.text);
      },
    };
    const failures: string[] = [];
    const grouper = new AlertGrouper({
      redis: client,
      chat,
      windowMs: 600_000,
      updateIntervalMs: 0,
      maxSamples: 5,
      dedupTtlMs: 3_600_000,
      keyPrefix: 'test:grouper:crash:',
      pacer: new ChannelPacer(client, 0),
      onError: (_error, _group, stage) => failures.push(stage),
    });

    await grouper.record(event('c-1', 'cmp-01', 'i-1'), errors);
    await grouper.flush();
    expect(messages).toEqual(['C0ALERTS']);
    expect(failures).toEqual(['redis']);

    await crashing.start();
    await waitUntil(connected, 'the client to reconnect');
    expect(await grouper.record(event('c-2', 'cmp-01', 'i-2'), errors)).toBe('grouped');
    await grouper.flush();

    expect(messages).toEqual(['C0ALERTS']);
    expect(updates).toEqual(['ts-1']);
    const prefix = 'test:grouper:crash:group:';
    const [groupKey] = (await client.keys(`${prefix}*`)).filter((k) => !k.slice(prefix.length).includes(':'));
    expect(await client.hget(groupKey as string, 'ts')).toBe('ts-1');
    // The edit shows both events.
    expect(shown).toEqual(['create failed: 2 event(s)']);
  }, 60_000);
});

/** A grouper with what the flush tests share: ten-minute windows, five samples, edits at once, no pacing. */
function grouperOn(
  redis: Redis,
  options: Pick<AlertGrouperOptions, 'chat' | 'keyPrefix'> & Partial<AlertGrouperOptions>,
): AlertGrouper {
  return new AlertGrouper({
    redis,
    windowMs: 600_000,
    updateIntervalMs: 0,
    maxSamples: 5,
    dedupTtlMs: 3_600_000,
    pacer: new ChannelPacer(redis, 0),
    ...options,
  });
}

describe('AlertGrouper.flush across replicas when a post outlives its lock', () => {
  const scratch = scratchRedis('grouper:lease');
  const prefix = scratch.prefix;

  /** A Slack whose next post waits until the test settles it; `started` resolves when that post has begun. */
  function heldSlack() {
    let settle: (outcome: Error | string) => void = () => undefined;
    let begun: () => void = () => undefined;
    const started = new Promise<void>((resolve) => {
      begun = resolve;
    });
    const outcome = new Promise<Error | string>((resolve) => {
      settle = resolve;
    });
    const posts: string[] = [];
    const chat: ChatPort = {
      post: async (channel, _message, options) => {
        if (options?.threadTs) return { channel, ts: `${options.threadTs}-reply` };
        posts.push(channel);
        begun();
        const result = await outcome;
        if (result instanceof Error) throw result;
        return { channel, ts: result };
      },
      update: async () => undefined,
    };
    return { chat, posts, started, settle };
  }

  const replica = (chat: ChatPort) => grouperOn(scratch.redis(), { chat, keyPrefix: prefix, postLockMs: 300 });

  it('releases only its own lock: the replica that took over keeps posting alone, and the group is posted once', async () => {
    const redis = scratch.redis();
    const slow = heldSlack();
    const next = heldSlack();
    const first = replica(slow.chat);
    const second = replica(next.chat);
    await first.record(event('l-1', 'cmp-01', 'i-1'), errors);
    const firstFlush = first.flush();
    await slow.started;
    const [lockKey] = await redis.keys(`${prefix}outbox:*:lock`);
    expect(lockKey).toBeDefined();
    // The first replica's post outlives its lease; the second replica takes the group over.
    await waitUntil(async () => (await redis.exists(lockKey as string)) === 0, "the first replica's lease to lapse");
    await second.record(event('l-2', 'cmp-01', 'i-2'), errors);
    const secondFlush = second.flush();
    await next.started;
    const taken = await redis.get(lockKey as string);
    // The first post fails late: its replica gives the lock up, which must leave the second replica's alone.
    slow.settle(new Error('slack timed out'));
    await firstFlush;
    expect(await redis.get(lockKey as string)).toBe(taken);
    next.settle('ts-2');
    await secondFlush;
    expect(next.posts).toEqual(['C0ALERTS']);
    const group = lockKey?.slice(0, -':lock'.length) as string;
    expect(await redis.hget(group, 'ts')).toBe('ts-2');
    // Another flush of the first replica edits that message; it never posts the group again.
    await first.flush();
    expect(slow.posts).toEqual(['C0ALERTS']);
  });
});

describe('AlertGrouper.flush on a busy channel', () => {
  const scratch = scratchRedis('grouper:busy');
  const prefix = scratch.prefix;

  it('posts a new group before it edits a known one, and both before their thread samples', async () => {
    const redis = scratch.redis();
    const calls: string[] = [];
    const replies: string[] = [];
    let posts = 0;
    const chat: ChatPort = {
      post: async (channel, message, options) => {
        calls.push(options?.threadTs ? `reply ${options.threadTs}` : 'post');
        if (options?.threadTs) replies.push(`${options.threadTs}: ${message.text}`);
        return { channel, ts: options?.threadTs ? `${options.threadTs}-reply` : `ts-${++posts}` };
      },
      update: async (_channel, ts) => {
        calls.push(`update ${ts}`);
      },
    };
    const grouper = grouperOn(redis, {
      chat,
      keyPrefix: prefix,
      // One call per 100 ms: each flush gets at most one call through, and the rest wait their turn.
      pacer: new ChannelPacer(redis, 100, `${prefix}pace:`),
    });
    const drain = () =>
      waitUntil(
        async () => {
          await grouper.flush();
          return (await grouper.pending()) === 0;
        },
        'every group to be shown',
        20_000,
      );

    await grouper.record(event('known-1', 'cmp-01', 'i-1'), errors);
    await drain();
    expect(calls).toEqual(['post', 'reply ts-1']);
    calls.length = 0;

    // News about the known group (an edit due, two samples) and a new group, recorded in that order.
    await grouper.record(event('known-2', 'cmp-01', 'i-2'), errors);
    await grouper.record(event('known-3', 'cmp-01', 'i-3'), errors);
    await grouper.record(event('new-1', 'cmp-02', 'i-4'), errors);
    await drain();
    expect(calls.slice(0, 2)).toEqual(['post', 'update ts-1']);
    // The known group's two waiting samples share one reply: one slot of the busy channel, not two.
    expect(calls.slice(2).sort()).toEqual(['reply ts-1', 'reply ts-2']);
    const known = replies.find((r) => r.startsWith('ts-1: ') && r.includes('known-2')) ?? '';
    expect(known.indexOf('message_id `known-2`')).toBeLessThan(known.indexOf('message_id `known-3`'));
    expect(known).not.toContain('more so far');

    // A burst past tap.maxSamples (5): the samples up to it in one reply, which says how many more were counted.
    calls.length = 0;
    replies.length = 0;
    for (let i = 4; i <= 12; i++) await grouper.record(event(`known-${i}`, 'cmp-01', `i-${i}`), errors);
    await drain();
    expect(calls.filter((c) => c === 'reply ts-1')).toEqual(['reply ts-1']);
    const burst = replies.find((r) => r.startsWith('ts-1: ')) ?? '';
    expect(burst.match(/message_id `/g)).toHaveLength(2);
    expect(burst).toContain('message_id `known-5`');
    expect(burst).toContain('…and 7 more so far, counted in the message above: the first 5 are shown in full');
  }, 60_000);
});

describe('AlertGrouper.flush after an upgrade', () => {
  const scratch = scratchRedis('grouper:adopt');
  const prefix = scratch.prefix;

  it('takes over a group an earlier warren left queued its own way: its last edit and its waiting samples', async () => {
    const redis = scratch.redis();
    const calls: string[] = [];
    const chat: ChatPort = {
      post: async (channel, message, options) => {
        calls.push(options?.threadTs ? `reply ${options.threadTs}: ${message.text}` : `post ${message.text}`);
        return { channel, ts: 'reply' };
      },
      update: async (_channel, ts, message) => {
        calls.push(`update ${ts}: ${message.text}`);
      },
    };
    // What the grouper before the outbox kept: the group posted at 2 events, a third counted since, its sample
    // waiting in the group's own list, and the group marked dirty.
    const g = `${prefix}group:legacy`;
    await redis.hset(g, {
      channel: 'C0ALERTS',
      title: 'create failed',
      severity: 'error',
      groupKey: 'host=cmp-01',
      route: 'errors',
      cluster: 'prod',
      firstSeen: '1',
      lastSeen: '2',
      count: '3',
      samples: '3',
      ts: 'ts-legacy',
      postedCount: '2',
    });
    await redis.rpush(`${g}:pending`, 'the third sample');
    await redis.sadd(`${prefix}dirty`, 'legacy');

    const grouper = grouperOn(redis, { chat, keyPrefix: prefix });
    await grouper.flush();
    expect(calls).toEqual(['update ts-legacy: create failed: 3 event(s)', 'reply ts-legacy: the third sample']);
    expect(await grouper.pending()).toBe(0);
    expect(await redis.exists(`${prefix}dirty`, `${g}:pending`)).toBe(0);
  });
});
