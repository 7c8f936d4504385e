/**
 * The Slack outbox on a real Redis with a fake chat port: a message posted once and edited only when its rendering
 * changed, replies in order and once, an edit held for its gap, a busy channel left for later without waiting, two
 * replicas delivering the same message, a deliverer stalled past its lease, Slack down, and Redis killed between a
 * post and saving its ts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatMessage, ChatPort, PostedMessage } from '../../src/chat/chat-message.js';
import { type OutboxSource, SENT_AGAIN, SlackOutbox, type SlackOutboxOptions } from '../../src/chat/slack-outbox.js';
import { createLogger } from '../../src/logger.js';
import { type AofRedis, startAofRedis } from '../support/aof-redis.js';
import { scratchRedis } from '../support/scratch-redis.js';
import { waitUntil } from '../support/wait-until.js';

interface Call {
  kind: 'post' | 'update';
  text: string;
  thread?: string;
  ts?: string;
  by: string;
}

/** A chat port that logs what Slack took; `gate` runs before each call and may throw (refused) or wait (a hang). */
function fakeSlack(log: Call[], by: string, gate: (call: Call) => Promise<void> = async () => undefined): ChatPort {
  return {
    async post(channel, message, options) {
      const call: Call = {
        kind: 'post',
        text: message.text,
        by,
        ...(options?.threadTs ? { thread: options.threadTs } : {}),
      };
      await gate(call);
      log.push(call);
      return { channel, ts: `${by}.${log.length}` };
    },
    async update(_channel, ts, message) {
      const call: Call = { kind: 'update', text: message.text, ts, by };
      await gate(call);
      log.push(call);
    },
  };
}

/** A producer whose message text tests set directly, and which records where the message was posted. */
function textSource(texts: Map<string, string>, posted: Map<string, PostedMessage> = new Map()): OutboxSource {
  return {
    async view(id) {
      const text = texts.get(id);
      const message: ChatMessage | undefined = text === undefined ? undefined : { text };
      return message && { channel: 'C0OUT', message };
    },
    async posted(id, where) {
      posted.set(id, where);
    },
  };
}

/** Back-offs pass at once: the clock runs a minute further ahead every time it is asked. */
function aheadClock(): () => number {
  let skew = 0;
  return () => {
    skew += 60_000;
    return Date.now() + skew;
  };
}

const refused = () => Object.assign(new Error('fake 500'), { code: 'slack_webapi_http_error' });

describe('SlackOutbox', () => {
  const scratch = scratchRedis('outbox');
  let redis: Redis;
  let n = 0;
  const fresh = () => `m${++n}`;
  const outbox = (
    chat: ChatPort,
    source: OutboxSource,
    connection = redis,
    now: () => number = Date.now,
    hooks: Pick<SlackOutboxOptions, 'onCall' | 'onError'> = {},
  ) =>
    new SlackOutbox({
      ...hooks,
      redis: connection,
      chat,
      pacer: new ChannelPacer(connection, 0, `${scratch.prefix}pace:`),
      source,
      logger: createLogger('silent'),
      now,
      prefix: `${scratch.prefix}outbox`,
      kind: 'test',
      slackCallMs: 200,
    });

  beforeAll(() => {
    redis = scratch.redis();
  });

  /** One message, 'request', on an outbox whose Slack calls pass `gate` first and whose back-offs pass at once. */
  function gated(
    gate: (call: Call, log: Call[]) => Promise<void>,
    hooks: Pick<SlackOutboxOptions, 'onCall' | 'onError'> = {},
  ) {
    const log: Call[] = [];
    const texts = new Map<string, string>();
    const box = outbox(
      fakeSlack(log, 'a', (call) => gate(call, log)),
      textSource(texts),
      redis,
      aheadClock(),
      hooks,
    );
    const id = fresh();
    texts.set(id, 'request');
    return { log, texts, box, id };
  }

  it('posts once, edits only when the rendering changed, and threads replies in the order queued', async () => {
    const log: Call[] = [];
    const texts = new Map<string, string>();
    const posted = new Map<string, PostedMessage>();
    const box = outbox(fakeSlack(log, 'a'), textSource(texts, posted));
    const id = fresh();
    texts.set(id, 'v1');
    expect(await box.refresh(id)).toBe(true);
    expect(await box.refresh(id)).toBe(true);
    texts.set(id, 'v2');
    expect(await box.refresh(id)).toBe(true);
    await Promise.all(['r1', 'r2', 'r3'].map((text) => box.reply(id, text)));
    const ts = await box.ts(id);
    expect(posted.get(id)?.ts).toBe(ts);
    expect(log).toEqual([
      { kind: 'post', text: 'v1', by: 'a' },
      { kind: 'update', text: 'v2', ts, by: 'a' },
      ...['r1', 'r2', 'r3'].map((text) => ({ kind: 'post', text, thread: ts, by: 'a' })),
    ]);
    expect(await box.pending()).not.toContain(id);
  });

  it('with an edit gap, holds an edit that comes too soon but not the replies; without waiting, leaves a busy channel for later', async () => {
    const log: Call[] = [];
    const texts = new Map<string, string>();
    let clock = Date.now();
    const pacer = new ChannelPacer(redis, 60_000, `${scratch.prefix}gap-pace:`);
    const box = new SlackOutbox({
      redis,
      chat: fakeSlack(log, 'a'),
      pacer,
      source: textSource(texts),
      logger: createLogger('silent'),
      now: () => clock,
      prefix: `${scratch.prefix}gap-outbox`,
      kind: 'test',
      editGapMs: 5_000,
      paceWaitMs: 0,
    });
    const id = fresh();
    texts.set(id, 'v1');
    // The channel's one slot a minute is taken by someone else: nothing goes, nothing waits, it stays pending.
    expect(await pacer.tryClaim('C0OUT', 'post', 'someone')).toBe(true);
    expect(await box.refresh(id)).toBe(false);
    expect(log).toEqual([]);
    expect(await box.pending()).toContain(id);
    await redis.del(`${scratch.prefix}gap-pace:C0OUT`);
    expect(await box.deliverPending().then(() => log.map((c) => c.text))).toEqual(['v1']);
    // v2 a second after the post: the edit waits for the gap, the reply does not.
    await redis.del(`${scratch.prefix}gap-pace:C0OUT`);
    clock += 1_000;
    texts.set(id, 'v2');
    await box.reply(id, 'r1');
    expect(await box.refresh(id)).toBe(false);
    expect(log.map((c) => c.text)).toEqual(['v1', 'r1']);
    await redis.del(`${scratch.prefix}gap-pace:C0OUT`);
    clock += 5_000;
    expect(await box.refresh(id)).toBe(true);
    expect(log.map((c) => `${c.kind} ${c.text}`)).toEqual(['post v1', 'post r1', 'update v2']);
    expect(await box.pending()).not.toContain(id);
  });

  it('delivers once and in order when two replicas queue and deliver the same message at once', async () => {
    const log: Call[] = [];
    const texts = new Map<string, string>();
    const second = new Redis(scratch.redis().options);
    try {
      const a = outbox(fakeSlack(log, 'a'), textSource(texts));
      const b = outbox(fakeSlack(log, 'b'), textSource(texts), second);
      const id = fresh();
      texts.set(id, 'request');
      const sent = { a: [] as string[], b: [] as string[] };
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          const [name, box] = i % 2 === 0 ? (['a', a] as const) : (['b', b] as const);
          sent[name].push(`${name}-${i}`);
          return i % 5 === 0
            ? Promise.all([box.refresh(id), box.reply(id, `${name}-${i}`)])
            : box.reply(id, `${name}-${i}`);
        }),
      );
      await waitUntil(async () => {
        await Promise.all([a.deliverPending(), b.deliverPending()]);
        return !(await a.pending()).includes(id);
      }, 'the message to be delivered');
      const posts = log.filter((c) => c.kind === 'post' && !c.thread);
      expect(posts).toHaveLength(1);
      const ts = await a.ts(id);
      const replies = log.filter((c) => c.thread === ts).map((c) => c.text);
      expect(replies).toHaveLength(30);
      expect(new Set(replies).size).toBe(30);
      for (const name of ['a', 'b'] as const)
        expect(replies.filter((r) => r.startsWith(`${name}-`))).toEqual(sent[name]);
    } finally {
      second.disconnect();
    }
  });

  it('leaves a message to the replica that took it over when its deliverer stalls past the lease', async () => {
    const log: Call[] = [];
    const texts = new Map<string, string>();
    let release: () => void = () => undefined;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    let stalling = true;
    // Replica a's first post hangs, as a process stopped mid-call would, well past the lease (2 × 200 ms + 4 s).
    const a = outbox(
      fakeSlack(log, 'a', async (call) => {
        if (call.kind === 'post' && !call.thread && stalling) {
          stalling = false;
          await stalled;
        }
      }),
      textSource(texts),
    );
    const b = outbox(fakeSlack(log, 'b'), textSource(texts));
    const id = fresh();
    texts.set(id, 'request');
    const first = a.refresh(id);
    await waitUntil(
      async () => (await redis.exists(`${scratch.prefix}outbox:${id}:lock`)) === 1,
      'a to take the lease',
    );
    await b.reply(id, 'step 1');
    await waitUntil(
      async () => (await b.deliver(id)) && log.length === 2,
      'b to deliver once the lease lapsed',
      15_000,
    );
    const ts = await b.ts(id);
    release();
    // a's post comes back after b's; a finds its lease gone, keeps b's message and posts nothing more.
    expect(await first).toBe(false);
    expect(await a.ts(id)).toBe(ts);
    await a.reply(id, 'step 2');
    await waitUntil(() => a.deliver(id), 'a to deliver step 2 once its back-off passed', 15_000);
    // b cannot know whether a's post went through, so its own says it may be a second one.
    expect(log.map((c) => `${c.by}:${c.kind}:${c.text}:${c.thread ?? ''}`)).toEqual([
      `b:post:request ${SENT_AGAIN}:`,
      `b:post:step 1:${ts}`,
      'a:post:request:',
      `a:post:step 2:${ts}`,
    ]);
  });

  it('keeps everything while Slack refuses, then delivers it once and in order', async () => {
    let down = true;
    let refusedCalls = 0;
    const reported: string[] = [];
    const { log, texts, box, id } = gated(
      async () => {
        if (down) {
          refusedCalls++;
          throw refused();
        }
      },
      {
        onCall: (action) => reported.push(action),
        onError: (error, failed, stage) => reported.push(`${stage} error on ${failed}: ${(error as Error).message}`),
      },
    );
    expect(await box.refresh(id)).toBe(false);
    for (const text of ['r1', 'r2']) expect(await box.reply(id, text)).toBe(false);
    texts.set(id, 'request, approved');
    expect(await box.refresh(id)).toBe(false);
    await box.deliverPending();
    expect(refusedCalls).toBeGreaterThanOrEqual(2);
    expect(log).toEqual([]);
    expect(await box.pending()).toContain(id);
    down = false;
    await box.deliverPending();
    const ts = await box.ts(id);
    // The request is posted as it is now; no reply was ever in flight, so none is marked.
    expect(log.map((c) => `${c.kind}:${c.text}:${c.thread ?? ''}`)).toEqual([
      'post:request, approved:',
      `post:r1:${ts}`,
      `post:r2:${ts}`,
    ]);
    expect(await box.pending()).not.toContain(id);
    // Each refused call reported once, as an error; the calls that went through, as what they were.
    expect(reported).toEqual([...Array(refusedCalls).fill(`slack error on ${id}: fake 500`), 'post', 'reply', 'reply']);
  });

  it('marks a reply sent again when Slack may have taken it before the call failed', async () => {
    let timeouts = 1;
    const { log, box, id } = gated(async (call, log) => {
      if (call.thread && timeouts > 0) {
        timeouts--;
        // Slack took it, but the answer never came back.
        log.push(call);
        throw Object.assign(new Error('fake timeout'), { code: 'slack_webapi_request_error' });
      }
    });
    await box.refresh(id);
    expect(await box.reply(id, 'r1')).toBe(false);
    await box.deliverPending();
    const ts = await box.ts(id);
    expect(log.filter((c) => c.thread).map((c) => c.text)).toEqual(['r1', `r1 ${SENT_AGAIN}`]);
    expect(log.every((c) => !c.thread || c.thread === ts)).toBe(true);
  });

  it('marks the message itself sent again after its post timed out, but not after Slack refused it', async () => {
    const failures = [refused(), Object.assign(new Error('fake timeout'), { code: 'slack_webapi_request_error' })];
    const { log, texts, box, id } = gated(async (call, log) => {
      const failure = failures.shift();
      if (!failure) return;
      // The refused call never reached the channel; the timed-out one did.
      if (failure.code === 'slack_webapi_request_error') log.push(call);
      throw failure;
    });
    expect(await box.refresh(id)).toBe(false);
    expect(log).toEqual([]);
    expect(await box.deliver(id)).toBe(false);
    expect(await box.deliver(id)).toBe(true);
    expect(log.map((c) => c.text)).toEqual(['request', `request ${SENT_AGAIN}`]);
    // The mark stays until the message changes; the next edit shows it as it is.
    texts.set(id, 'request, approved');
    expect(await box.refresh(id)).toBe(true);
    expect(log.at(-1)).toMatchObject({ kind: 'update', text: 'request, approved' });
  });

  describe('with Redis killed between a post and saving its ts', () => {
    let aof: AofRedis;
    let connection: Redis;

    beforeAll(async () => {
      aof = await startAofRedis();
      // Fails at once while Redis is gone, as a production client does after its retries.
      connection = new Redis(aof.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false });
      connection.on('error', () => undefined);
      await waitUntil(() => connection.status === 'ready', 'the client to connect');
    });

    afterAll(async () => {
      connection.disconnect();
      await aof.remove();
    });

    it('saves the ts it kept once Redis is back instead of posting the message again', async () => {
      const log: Call[] = [];
      const texts = new Map<string, string>();
      const posted = new Map<string, PostedMessage>();
      let killed = false;
      const box = outbox(
        fakeSlack(log, 'a', async (call) => {
          if (call.kind === 'post' && !call.thread && !killed) {
            killed = true;
            // Slack takes the post; Redis dies before its answer is saved.
            setImmediate(() => void aof.kill());
            await waitUntil(() => connection.status !== 'ready', 'the client to see Redis gone');
          }
        }),
        textSource(texts, posted),
        connection,
        aheadClock(),
      );
      const id = fresh();
      texts.set(id, 'request');
      const first = await box.refresh(id).catch(() => false);
      expect(first).toBe(false);
      expect(log).toHaveLength(1);
      await aof.start();
      await waitUntil(() => connection.status === 'ready', 'the client to reconnect', 20_000);
      // The refresh itself never reached Redis: queue it again, as the producer's next change or sweep would.
      await waitUntil(
        async () => {
          await box.refresh(id).catch(() => false);
          await box.reply(id, 'r1').catch(() => false);
          return (await box.pending()).length === 0;
        },
        'the message to be delivered after the restart',
        20_000,
      );
      const ts = await box.ts(id);
      expect(ts).toBe('a.1');
      expect(posted.get(id)?.ts).toBe(ts);
      expect(log.filter((c) => c.kind === 'post' && !c.thread)).toHaveLength(1);
      expect(log.filter((c) => c.thread === ts).length).toBeGreaterThanOrEqual(1);
    });
  });
});
