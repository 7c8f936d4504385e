/**
 * The run messenger's delivery on a real Redis, as two replicas run it: both queue replies for the same run and
 * both deliver at once, through a Slack that fails some calls. Slack is a recording fake here (the end-to-end
 * outage tests use the real front end); what is under test is the lock, the queue and the unmarking in Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { createLogger } from '../../src/logger.js';
import { RunMessenger, SENT_AGAIN } from '../../src/remediation/run-messenger.js';
import { RunStore } from '../../src/remediation/run-store.js';
import type { RunRequest } from '../../src/remediation/workflow-run.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys } from '../support/warren-harness.js';

const KEYS = harnessKeys('remediation-run-messenger');

const REPLIES = 40;
const ROUNDS = 30;

interface Posted {
  text: string;
  thread?: string;
  replica: string;
}

/** Slack as seen by one replica: some calls refused (never processed), some processed but timing out. */
function flakySlack(log: Posted[], replica: string, random: () => number): ChatPort {
  let ts = 0;
  const failure = (code: string) => Object.assign(new Error(`fake ${code}`), { code });
  return {
    async post(channel, message, options) {
      await new Promise((resolve) => setTimeout(resolve, random() * 3));
      const roll = random();
      if (roll < 0.2) throw failure('slack_webapi_http_error');
      log.push({ text: message.text, ...(options?.threadTs ? { thread: options.threadTs } : {}), replica });
      if (roll < 0.3) throw failure('slack_webapi_request_error');
      ts += 1;
      return { channel, ts: `${replica}.${ts}` };
    },
    async update() {
      if (random() < 0.2) throw failure('slack_webapi_http_error');
    },
  };
}

/** A small seeded generator, so a failing interleaving can be told apart from another in the log. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function request(id: string): RunRequest {
  return {
    id,
    workflow: 'delete-zombie-queues',
    cluster: 'default',
    args: {},
    risk: 'medium',
    requester: 'U0REQ',
    channel: 'C0OPS',
    createdAt: Date.now(),
    expiresAt: Date.now() + 600_000,
    approvalsNeeded: 1,
    plan: { summary: 'delete 2 queues', warnings: [], actions: [], guards: [] },
  };
}

describe('RunMessenger with two replicas on one Redis', () => {
  const stack = inject('stack');
  const connections: Redis[] = [];

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
  });

  afterAll(() => {
    for (const redis of connections) redis.disconnect();
  });

  /** One run, two replicas, REPLIES replies; failures and interleaving drawn from `seed`. */
  async function round(seed: number): Promise<{ replies: number; marked: number }> {
    const random = seeded(seed);
    const log: Posted[] = [];
    // Back-offs pass at once: each replica's clock runs a minute ahead every time it is asked.
    let skew = 0;
    const now = () => {
      skew += 60_000;
      return Date.now() + skew;
    };
    const replicas = ['a', 'b'].map((name) => {
      const redis = new Redis(stack.redisUrl);
      connections.push(redis);
      const store = new RunStore(redis, `${KEYS}remediation:`);
      return {
        name,
        store,
        messenger: new RunMessenger({
          prefix: `${KEYS}remediation:outbox`,
          redis,
          store,
          chat: flakySlack(log, name, random),
          pacer: new ChannelPacer(redis, 0),
          logger: createLogger('silent'),
          now,
        }),
      };
    });
    const [a, b] = replicas as [(typeof replicas)[number], (typeof replicas)[number]];
    const id = `r-${seed.toString(16).padStart(8, '0').slice(-8)}`;
    await a.store.create(request(id), 'pending', 'owner');

    // Both replicas queue and deliver at once, as the executor on one and a click or the sweep on the other do.
    const sent: Record<string, string[]> = { a: [], b: [] };
    await Promise.all(
      Array.from({ length: REPLIES }, (_, i) => {
        const replica = i % 2 === 0 ? a : b;
        const text = `${replica.name}-${i}`;
        sent[replica.name]?.push(text);
        // Called in order on one connection, so each replica's replies are queued in its own order.
        return i % 7 === 0
          ? Promise.all([replica.messenger.refresh(id), replica.messenger.reply(id, text)])
          : replica.messenger.reply(id, text);
      }),
    );
    await waitUntil(
      async () => {
        await Promise.all([a.messenger.deliverPending(), b.messenger.deliverPending()]);
        return (await connections[0]?.scard(`${KEYS}remediation:outbox`)) === 0;
      },
      `every message delivered (seed ${seed})`,
      60_000,
    );

    const requests = log.filter((p) => p.thread === undefined);
    const ts = (await a.store.get(id))?.message?.ts;
    expect(ts, `seed ${seed}`).toBeDefined();
    const replies = log.filter((p) => p.thread === ts).map((p) => p.text);
    // A request post that timed out after Slack took it is posted again (marked sent again, as replies are).
    expect(requests.length, `seed ${seed}`).toBeGreaterThanOrEqual(1);
    const unmarkedRequests = requests.filter((p) => !p.text.endsWith(SENT_AGAIN));
    expect(unmarkedRequests.length, `an unmarked request posted twice (seed ${seed})`).toBeLessThanOrEqual(1);
    const unmarked = replies.filter((r) => !r.endsWith(SENT_AGAIN));
    expect(new Set(unmarked).size, `an unmarked reply posted twice (seed ${seed})`).toBe(unmarked.length);
    const delivered = new Set(replies.map((r) => r.replace(` ${SENT_AGAIN}`, '')));
    expect([...delivered].sort(), `seed ${seed}`).toEqual([...(sent.a ?? []), ...(sent.b ?? [])].sort());
    // Each replica's replies keep the order it queued them in (their first appearance in the thread).
    for (const name of ['a', 'b']) {
      const firsts = [...new Set(replies.map((r) => r.replace(` ${SENT_AGAIN}`, '')))].filter((r) =>
        r.startsWith(`${name}-`),
      );
      expect(firsts, `seed ${seed}`).toEqual(sent[name]);
    }
    // Nothing is left for a later sweep: the list is gone, the message is up to date.
    expect(await connections[0]?.exists(`${KEYS}remediation:outbox:${id}:replies`)).toBe(0);
    for (const redis of connections.splice(0)) redis.disconnect();
    return { replies: replies.length, marked: replies.length - unmarked.length };
  }

  it('posts the request and every reply, no unmarked reply twice, each replica’s in order (30 seeded rounds)', async () => {
    // A failure names its seed; WARREN_TEST_SEED=<seed> replays it as the first round.
    const base = Number(process.env.WARREN_TEST_SEED ?? Date.now() % 1_000_000);
    let replies = 0;
    let marked = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const result = await round(base + i);
      replies += result.replies;
      marked += result.marked;
    }
    // The fake times out about one post in ten after taking it: the rounds must have exercised the marking.
    expect(marked).toBeGreaterThan(0);
    console.log(`[figures] run messenger: ${ROUNDS} rounds, ${replies} replies posted, ${marked} marked as sent again`);
  }, 120_000);
});
