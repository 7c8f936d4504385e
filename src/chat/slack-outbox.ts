/**
 * The outbound path to Slack for messages that live on: posted once, edited in place when they change, with thread
 * replies in order. What a message should say belongs to its producer (a run, an alert); everything about getting
 * it into Slack is here, in Redis first, so a Slack failure (500, 429, timeout) or a restart loses nothing:
 *
 * - `refresh(id)` says the message must show its producer's current state (posted first if it never was); it bumps
 *   the message's version. `reply(id, text)` queues a thread reply behind every reply queued before it. Both mark
 *   the message pending, then deliver.
 * - Delivery renders the message through its `OutboxSource`, posts it (once) or edits it when the rendering changed,
 *   then posts the queued replies, each removed only after Slack took it. Its Slack `ts` is kept here.
 * - One deliverer per message at a time: a lease (`RedisLock`) that only its holder renews or releases, renewed
 *   before every call, plus a chain in this process. Two replicas never post the same reply or post out of order.
 * - Every call first claims the channel's slot from the one `ChannelPacer`; a failure holds the channel back (5 s,
 *   or Slack's Retry-After) and the message waits out the same back-off before its next try.
 * - At least once, where Slack leaves no choice (see docs/reliability.md): a post (the message's own or a reply)
 *   that timed out or whose deliverer died mid-call may be in Slack already. It is posted again, marked
 *   `SENT_AGAIN`: losing it would be worse, and Slack has no idempotency key to ask with. A post Slack accepted whose `ts` Redis then failed to save
 *   is kept in this process and saved on the next try instead of posted again.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { LockLostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RedisLock } from '../redis/redis-lock.js';
import { RedisScript } from '../redis/redis-script.js';
import { scrub } from '../secrets.js';
import { type ChannelPacer, isRateLimited, type PaceKind, retryDelayMs } from './channel-pacer.js';
import type { ChatMessage, ChatPort, PostedMessage } from './chat-message.js';

export const SENT_AGAIN = '_(sent again: an earlier attempt may have reached Slack)_';

/** What a producer tells the outbox about one of its messages. */
export interface OutboxView {
  channel: string;
  /** What the message should show now. */
  message: ChatMessage;
  /** Where the producer already keeps it, for a message posted before the outbox kept its ts. */
  ts?: string;
}

/**
 * The producer's side: what its message says now, and where it was posted, for its own links and buttons. A
 * producer either renders on delivery (`view`: the message always shows the latest state, whoever changed it) or
 * stages each rendering with `stage` (its writes are serialized anyway, and an earlier message's last state stays
 * deliverable after the producer moved on).
 */
export interface OutboxSource {
  /** The message as it should look now; undefined when the producer no longer has it (its outbox entry goes). */
  view?(id: string): Promise<OutboxView | undefined>;
  /** Slack accepted the message's first post. */
  posted?(id: string, posted: PostedMessage): Promise<void>;
}

export interface SlackOutboxOptions {
  redis: Redis;
  chat: ChatPort;
  pacer: ChannelPacer;
  source?: OutboxSource;
  logger: Logger;
  /** Counts each Slack call that went through (a failed one goes to `onError`). */
  onCall?: (action: 'post' | 'update' | 'reply') => void;
  now: () => number;
  /** Redis keys: `<prefix>` (the pending set), `<prefix>:<id>` (state), `:replies`, `:lock`. */
  prefix: string;
  /** Names a message for the pacer's waiting sets and the log, e.g. `run`. */
  kind: string;
  /** slack.apiTimeout: the lease is renewed before each call, so it has to outlast one call (two tries). */
  slackCallMs?: number;
  /** How long a message is kept: one that could not be delivered in that time has nobody to tell. */
  retentionS?: number;
  /**
   * How long a call waits for the channel's slot; default 10 s, after which it goes anyway. 0: a call whose slot is
   * not free now is not made, and the message stays pending for the next delivery (the tap's flush, which must
   * never wait on one busy channel).
   */
  paceWaitMs?: number;
  /** The least time between a message's post or edit and its next edit (tap.updateInterval); replies still go. */
  editGapMs?: number;
  /**
   * Packs the replies queued (oldest first) into one thread reply, given how many were offered to the message in
   * all (`offered`, kept by a producer that caps what it queues): the reply's text and how many it takes.
   */
  packReplies?: (queued: string[], offered: number) => { take: number; text: string };
  /** The lease of a message's deliverer; by default long enough for one Slack call and its retry. */
  leaseMs?: number;
  /** A failed delivery: in a Slack call, or in Redis (the message is retried on the next delivery either way). */
  onError?: (error: unknown, id: string, stage: 'slack' | 'redis') => void;
}

/** The message is unmarked only when nothing is left, checked in one step with what a writer adds and marks. */
const FINISH = new RedisScript(`
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'shown') or '0') < tonumber(redis.call('HGET', KEYS[1], 'version') or '0') then
  return 0
end
redis.call('SREM', KEYS[3], ARGV[1])
return 1
`);
/** How long a call waits for the channel's slot before it goes anyway (nothing is dropped, only paced). */
const PACE_WAIT_MS = 10_000;
/** Passes per delivery: new work arriving meanwhile is taken too; the sweep takes the rest. */
const PASSES = 3;

/** A call whose channel slot was not free, with `paceWaitMs: 0`: not a failure, the message waits its turn. */
class NotYourTurn extends Error {}

/** One delivery attempt of one message, and what its error handling needs to know. */
interface Attempt {
  id: string;
  key: string;
  lock: RedisLock;
  lease: RedisLock | undefined;
  channel?: string;
  /**
   * Set while a post (the message's own or a thread reply) is under way: only that call's failure says anything
   * about it, and a refused re-post ('again') leaves the first attempt as uncertain as it was.
   */
  posting?: 'fresh' | 'again';
  /** Set while a Slack call is under way: a failure then is Slack's, else Redis's. */
  inSlack?: boolean;
}

/** The message with a line saying it may be in the channel twice (kept until its next edit). */
function markedAgain(message: ChatMessage): ChatMessage {
  const mark = { type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: SENT_AGAIN }] };
  return {
    text: `${message.text} ${SENT_AGAIN}`,
    ...(message.blocks ? { blocks: [...message.blocks, mark] } : {}),
  };
}

function hashOf(message: ChatMessage): string {
  return createHash('sha1').update(JSON.stringify(message)).digest('hex');
}

export class SlackOutbox {
  private readonly lockMs: number;
  private readonly retentionS: number;
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly backoffUntil = new Map<string, number>();
  /** Posts Slack accepted whose ts Redis failed to save: saved on the next try instead of posted again. */
  private readonly unsaved = new Map<string, PostedMessage>();
  /** Leases whose release failed (Redis down): still this process's until they lapse, taken up by the next try. */
  private readonly stranded = new Map<string, RedisLock>();

  constructor(private readonly options: SlackOutboxOptions) {
    // Two tries of one call, the client's 1 s pause between them, and some slack for a slow Redis. A deliverer that
    // dies mid-call holds the message up this long at most.
    this.lockMs = options.leaseMs ?? 2 * (options.slackCallMs ?? 10_000) + 4_000;
    this.retentionS = options.retentionS ?? 30 * 86_400;
  }

  /** Messages with something not yet in Slack. */
  pending(): Promise<string[]> {
    return this.options.redis.smembers(this.options.prefix);
  }

  /** The message's Slack ts, once posted. */
  async ts(id: string): Promise<string | undefined> {
    return (await this.options.redis.hget(this.key(id), 'ts')) ?? this.unsaved.get(id)?.ts;
  }

  /** The message must show its producer's current state (posted first if it never was); true once Slack has it all. */
  async refresh(id: string): Promise<boolean> {
    const key = this.key(id);
    await this.options.redis
      .multi()
      .hincrby(key, 'version', 1)
      .expire(key, this.retentionS)
      .sadd(this.options.prefix, id)
      .exec();
    return this.deliver(id);
  }

  /** Queues a reply in the message's thread, after every reply queued before it; true once Slack has it all. */
  async reply(id: string, text: string): Promise<boolean> {
    const replies = `${this.key(id)}:replies`;
    await this.options.redis
      .multi()
      .rpush(replies, scrub(text))
      .expire(replies, this.retentionS)
      .sadd(this.options.prefix, id)
      .exec();
    return this.deliver(id);
  }

  /**
   * Adds to `multi` (the producer's own write, so both land together): the message is to show `view` from now on,
   * with `replies` queued in its thread. `post: false` keeps a message that was never posted from being posted
   * (its replies are then dropped: nobody saw it); one already in Slack is still edited. Deliver it afterwards.
   */
  stage(
    multi: ChainableCommander,
    id: string,
    view: OutboxView,
    options: { replies?: readonly string[]; post?: boolean } = {},
  ): void {
    const key = this.key(id);
    multi.hset(key, 'view', JSON.stringify(view)).hincrby(key, 'version', 1);
    if (options.post === false) multi.hset(key, 'hold', '1');
    else multi.hdel(key, 'hold');
    multi.expire(key, this.retentionS);
    if (options.replies && options.replies.length > 0) {
      multi.rpush(`${key}:replies`, ...options.replies.map(scrub)).expire(`${key}:replies`, this.retentionS);
    }
    multi.sadd(this.options.prefix, id);
  }

  /** Whether `stage` was last called with this view and `post`: staging it again would change nothing. */
  async isStaged(id: string, view: OutboxView, options: { post?: boolean } = {}): Promise<boolean> {
    const [staged, hold] = await this.options.redis.hmget(this.key(id), 'view', 'hold');
    return staged === JSON.stringify(view) && (hold === '1') === (options.post === false);
  }

  /** Retries every message with pending work (a sweep calls it). */
  async deliverPending(): Promise<void> {
    const now = this.options.now();
    for (const [id, until] of this.backoffUntil) if (until < now - 60_000) this.backoffUntil.delete(id);
    for (const id of await this.pending()) await this.deliver(id);
  }

  /**
   * Delivers what is queued for `id`; false when something is left for a later try. With `lease`, every call also
   * renews it and stops when it is lost: a producer whose writes are guarded by that lease (a cluster's sweep lock)
   * then never sees its message change under another holder.
   */
  deliver(id: string, options: { lease?: RedisLock } = {}): Promise<boolean> {
    const previous = this.chains.get(id) ?? Promise.resolve(true);
    const next = previous.catch(() => false).then(() => this.deliverOnce(id, options.lease));
    this.chains.set(id, next);
    next
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      })
      .catch(() => undefined);
    return next;
  }

  private key(id: string): string {
    return `${this.options.prefix}:${id}`;
  }

  private async deliverOnce(id: string, lease: RedisLock | undefined): Promise<boolean> {
    const { redis, pacer, logger, now, kind } = this.options;
    if ((this.backoffUntil.get(id) ?? 0) > now()) return false;
    const key = this.key(id);
    const lock = (await RedisLock.acquire(redis, `${key}:lock`, this.lockMs)) ?? (await this.strandedLease(id));
    this.stranded.delete(id);
    // Another replica is delivering this message; it stays marked, so whatever that one misses is retried.
    if (!lock) return false;
    const attempt: Attempt = { id, key, lock, lease };
    try {
      for (let tries = 0; ; tries++) {
        try {
          const done = await this.sync(attempt);
          if (done) this.backoffUntil.delete(id);
          return done;
        } catch (error) {
          if (error instanceof NotYourTurn) return false;
          if (error instanceof LockLostError) {
            // Another deliverer holds the message now and does what is left: nothing failed that needs a pause.
            logger.info({ [kind]: id }, error.message);
            return false;
          }
          if (!attempt.inSlack) {
            // Redis failed, not Slack: nothing to hold the channel back for; the next delivery tries again, and a
            // post Slack accepted meanwhile is saved then, not posted again.
            this.options.onError?.(error, id, 'redis');
            logger.warn(
              { err: error, [kind]: id },
              `Redis failed while the ${kind} message was delivered; retried once it answers`,
            );
            return false;
          }
          attempt.inSlack = false;
          this.options.onError?.(error, id, 'slack');
          // Slack refused a first post: it is known not to be there. A timeout or a broken connection says
          // nothing, and a failure of any other call leaves an earlier uncertain post uncertain.
          // Only while this deliverer still holds the message: one that stalled past its lease must leave the new
          // holder's mark alone.
          if (
            attempt.posting === 'fresh' &&
            (error as { code?: unknown })?.code !== 'slack_webapi_request_error' &&
            (await lock.extend().catch(() => false))
          ) {
            await redis.hdel(key, 'inflight').catch(() => undefined);
          }
          attempt.posting = undefined;
          if (attempt.channel) await pacer.holdAfter(attempt.channel, error);
          // A 429 says when to come back, usually within seconds: wait that out once (the pacer's claim does) and
          // go on from what was saved, rather than leave a new message for the next sweep.
          if (isRateLimited(error) && tries === 0) continue;
          this.backoffUntil.set(id, now() + retryDelayMs(error));
          logger.warn(
            { err: error, [kind]: id },
            `could not bring the ${kind} message up to date in Slack; retried later`,
          );
          return false;
        }
      }
    } finally {
      await lock.release().catch(() => this.stranded.set(id, lock));
    }
  }

  /** This process's own lease on `id` whose release failed, if it still holds it. */
  private async strandedLease(id: string): Promise<RedisLock | undefined> {
    const lease = this.stranded.get(id);
    return lease && (await lease.extend().catch(() => false)) ? lease : undefined;
  }

  /** Makes Slack show the message as queued: true when nothing is left, false when more work came meanwhile. */
  private async sync(attempt: Attempt): Promise<boolean> {
    const { redis, chat, pacer, source, prefix, kind, onCall, packReplies, now } = this.options;
    const paceWaitMs = this.options.paceWaitMs ?? PACE_WAIT_MS;
    const { id, key, lock, lease } = attempt;
    const repliesKey = `${key}:replies`;
    for (let pass = 0; pass < PASSES; pass++) {
      const [version, shown, inflight, savedTs, shownHash, staged, hold, editedAt] = await redis.hmget(
        key,
        'version',
        'shown',
        'inflight',
        'ts',
        'hash',
        'view',
        'hold',
        'editedAt',
      );
      const view = staged ? (JSON.parse(staged) as OutboxView) : await source?.view?.(id);
      if (!view) {
        await redis.multi().del(key, repliesKey).srem(prefix, id).exec();
        this.unsaved.delete(id);
        return true;
      }
      const channel = view.channel;
      attempt.channel = channel;
      const mayCall = async (call: PaceKind) => {
        const waiter = `${kind}:${id}`;
        if (paceWaitMs > 0) await pacer.claim(channel, call, waiter, paceWaitMs);
        else if (!(await pacer.tryClaim(channel, call, waiter))) throw new NotYourTurn();
        if (!(await lock.extend())) throw new LockLostError(`lost the ${kind} message lock to another replica`);
        if (lease && !(await lease.extend()))
          throw new LockLostError(`lost the lease the ${kind} message is sent under`);
      };
      /** A Slack call: its failure is told apart from Redis's. */
      const inSlack = async <T>(call: () => Promise<T>): Promise<T> => {
        attempt.inSlack = true;
        const result = await call();
        attempt.inSlack = false;
        return result;
      };
      let ts = savedTs ?? view.ts;
      if (ts) this.unsaved.delete(id);
      const unsaved = ts ? undefined : this.unsaved.get(id);
      if (unsaved) {
        // Saved as showing nothing yet: what it showed then may be older than the version now.
        await this.savePosted(id, unsaved, null, '');
        ts = unsaved.ts;
      }
      const hash = hashOf(view.message);
      let deferred = false;
      if (!ts && hold) {
        // Never posted and not to be: there is nothing in Slack to correct or tell.
        await redis
          .multi()
          .del(repliesKey)
          .hset(key, 'shown', version ?? '0')
          .exec();
      } else if (!ts) {
        await mayCall('post');
        // A post whose answer never came (a timeout, its deliverer killed) may be in Slack: this one says so.
        const again = inflight === 'post';
        await redis.hset(key, 'inflight', 'post');
        attempt.posting = again ? 'again' : 'fresh';
        const posted = await inSlack(() => chat.post(channel, again ? markedAgain(view.message) : view.message));
        attempt.posting = undefined;
        this.unsaved.set(id, posted);
        // A deliverer stalled past its lease finds its post taken over: the new holder's post is the one kept.
        if (!(await lock.extend())) {
          this.unsaved.delete(id);
          throw new LockLostError(`posted the ${kind} message after its lease lapsed; another replica owns it now`);
        }
        await this.savePosted(id, posted, version, hash);
        onCall?.('post');
        ts = posted.ts;
      } else if (Number(shown ?? 0) < Number(version ?? 0)) {
        // An unchanged rendering is not sent again: the version only said "look".
        if (hash === shownHash) await redis.hset(key, 'shown', version ?? '0');
        else if (now() - Number(editedAt ?? 0) < (this.options.editGapMs ?? 0)) {
          // Edited a moment ago: this edit waits (the message stays pending), its replies need not.
          deferred = true;
        } else {
          await mayCall('edit');
          await inSlack(() => chat.update(channel, ts as string, view.message));
          onCall?.('update');
          await redis.hset(key, 'shown', version ?? '0', 'hash', hash, 'editedAt', String(now()));
        }
      }
      let uncertain = inflight === 'reply';
      while (ts) {
        const next = await this.nextReply(key, repliesKey, packReplies);
        if (!next) break;
        await mayCall('reply');
        await redis.hset(key, 'inflight', 'reply');
        attempt.posting = uncertain ? 'again' : 'fresh';
        const text = uncertain ? `${next.text} ${SENT_AGAIN}` : next.text;
        await inSlack(() => chat.post(channel, { text }, { threadTs: ts }));
        attempt.posting = undefined;
        await redis.multi().ltrim(repliesKey, next.take, -1).hdel(key, 'inflight').exec();
        onCall?.('reply');
        uncertain = false;
      }
      if (deferred) return false;
      if ((await FINISH.run(redis, [key, repliesKey, prefix], [id])) === 1) return true;
    }
    return false;
  }

  /**
   * The next thread reply: the oldest queued, or as many as `packReplies` puts in one. Read with the count offered,
   * in one step, so that what the producer queues meanwhile is neither in the reply nor missed by its count.
   */
  private async nextReply(
    key: string,
    repliesKey: string,
    pack: SlackOutboxOptions['packReplies'],
  ): Promise<{ take: number; text: string } | undefined> {
    const { redis } = this.options;
    if (!pack) {
      const text = await redis.lindex(repliesKey, 0);
      return text === null ? undefined : { take: 1, text };
    }
    const [[, queued], [, offered]] = (await redis.multi().lrange(repliesKey, 0, -1).hget(key, 'offered').exec()) as [
      [unknown, string[]],
      [unknown, string | null],
    ];
    if (queued.length === 0) return undefined;
    const packed = pack(queued, Number(offered ?? 0));
    return { take: Math.max(1, packed.take), text: scrub(packed.text) };
  }

  /**
   * Keeps the ts of a post Slack accepted, with the version it showed, then tells the producer. Should Redis fail
   * here, the post is remembered in this process, so the next try saves it rather than posting the message again.
   */
  private async savePosted(id: string, posted: PostedMessage, version: string | null, hash: string): Promise<void> {
    // The producer first: once either has the ts, the message is never posted again.
    await this.options.source?.posted?.(id, posted);
    await this.options.redis
      .multi()
      .hset(
        this.key(id),
        'ts',
        posted.ts,
        'shown',
        version ?? '0',
        'hash',
        hash,
        'editedAt',
        String(this.options.now()),
      )
      .hdel(this.key(id), 'inflight')
      .expire(this.key(id), this.retentionS)
      .exec();
    this.unsaved.delete(id);
  }
}
