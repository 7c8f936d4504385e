/**
 * What Slack is told about a run (the request message with its buttons, its edits, the thread of step results) goes
 * through Redis first, the way alerts do: a change bumps the run's message version and a thread reply is pushed on
 * the run's list, then delivery makes Slack match. A Slack failure (500, 429, timeout) leaves the work in Redis and
 * the engine's sweep retries it, in order, on whichever replica comes first; a restart loses nothing.
 *
 * One deliverer per run at a time (a Redis lock, plus a chain in this process), so two replicas never post the same
 * reply or post out of order. A reply is dequeued only after Slack took it; one whose fate is unknown (a timeout, a
 * deliverer killed mid-call) is posted again, marked as possibly repeated. After a failure the run waits out a back-off before the next try, so an executor
 * is held up by Slack for one attempt at most, never once per step.
 */

import type { Redis } from 'ioredis';
import { type ChannelPacer, type PaceKind, retryDelayMs } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import { LockLostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { RedisLock } from '../redis/redis-lock.js';
import { RedisScript } from '../redis/redis-script.js';
import { scrub } from '../secrets.js';
import { renderRun } from './run-message.js';
import type { RunStore } from './run-store.js';

/** As long as a finished run is kept: a message that could not be delivered in that time has nobody to tell. */
const OUTBOX_RETENTION_S = 30 * 86_400;
export const SENT_AGAIN = '_(sent again: an earlier attempt may have reached Slack)_';
/** The run is unmarked only when nothing is left, checked in one step with the work a writer adds and marks. */
const FINISH = new RedisScript(`
if redis.call('LLEN', KEYS[2]) > 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'shown') or '0') < tonumber(redis.call('HGET', KEYS[1], 'version') or '0') then
  return 0
end
redis.call('SREM', KEYS[3], ARGV[1])
return 1
`);
const PACE_WAIT_MS = 10_000;

export interface RunMessengerOptions {
  redis: Redis;
  store: RunStore;
  chat: ChatPort;
  pacer: ChannelPacer;
  logger: Logger;
  now: () => number;
  /** slack.apiTimeout: the deliverer's lock is renewed before each call, so it has to outlast one call (two tries). */
  slackCallMs?: number;
  prefix?: string;
}

export class RunMessenger {
  private readonly prefix: string;
  private readonly lockMs: number;
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly backoffUntil = new Map<string, number>();

  constructor(private readonly options: RunMessengerOptions) {
    this.prefix = options.prefix ?? 'warren:remediation:outbox';
    // Two tries of one call, the client's 1 s pause between them, and some slack for a slow Redis. A deliverer that
    // dies mid-call holds the run's messages up this long at most: less than the executor's lease, so a killed
    // executor's run is told it was interrupted as soon as the lease lapses.
    this.lockMs = 2 * (options.slackCallMs ?? 10_000) + 4_000;
  }

  /** Runs with something not yet in Slack. */
  pending(): Promise<string[]> {
    return this.options.redis.smembers(this.prefix);
  }

  /** The run's message must show its current state (posted first if it never was); true once Slack has it all. */
  async refresh(id: string): Promise<boolean> {
    await this.options.redis
      .multi()
      .hincrby(`${this.prefix}:${id}`, 'version', 1)
      .expire(`${this.prefix}:${id}`, OUTBOX_RETENTION_S)
      .sadd(this.prefix, id)
      .exec();
    return this.deliver(id);
  }

  /** Queues a reply in the run's thread, after every reply queued before it; true once Slack has it all. */
  async reply(id: string, text: string): Promise<boolean> {
    await this.options.redis
      .multi()
      .rpush(`${this.prefix}:${id}:replies`, scrub(text))
      .expire(`${this.prefix}:${id}:replies`, OUTBOX_RETENTION_S)
      .sadd(this.prefix, id)
      .exec();
    return this.deliver(id);
  }

  /** Retries every run with pending work; the engine's sweep calls it. */
  async deliverPending(): Promise<void> {
    const now = this.options.now();
    for (const [id, until] of this.backoffUntil) if (until < now - 60_000) this.backoffUntil.delete(id);
    for (const id of await this.pending()) await this.deliver(id);
  }

  /** Delivers what is queued for `id`; false when something is left for a later try. */
  deliver(id: string): Promise<boolean> {
    const previous = this.chains.get(id) ?? Promise.resolve(true);
    const next = previous.catch(() => false).then(() => this.deliverOnce(id));
    this.chains.set(id, next);
    next
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      })
      .catch(() => undefined);
    return next;
  }

  private async deliverOnce(id: string): Promise<boolean> {
    const { redis, store, chat, pacer, logger, now } = this.options;
    if ((this.backoffUntil.get(id) ?? 0) > now()) return false;
    const key = `${this.prefix}:${id}`;
    const repliesKey = `${key}:replies`;
    const lock = await RedisLock.acquire(redis, `${key}:lock`, this.lockMs);
    // Another replica is delivering this run; the run stays marked, so whatever that one misses is retried.
    if (!lock) return false;
    let channel: string | undefined;
    // Set while a thread reply's post is under way: only that call's failure says anything about the reply, and a
    // refused re-post ('again') leaves the first attempt as uncertain as it was.
    let replying: 'fresh' | 'again' | undefined;
    try {
      // New work can arrive while this delivers; a few passes take it too, the sweep takes the rest.
      for (let pass = 0; pass < 3; pass++) {
        const [version, shown, inflight] = await redis.hmget(key, 'version', 'shown', 'inflight');
        const run = await store.get(id);
        if (!run) {
          await redis.multi().del(key, repliesKey).srem(this.prefix, id).exec();
          return true;
        }
        channel = run.message?.channel ?? run.channel;
        const target = channel;
        const mayCall = async (kind: PaceKind) => {
          await pacer.claim(target, kind, `run:${id}`, PACE_WAIT_MS);
          if (!(await lock.extend())) throw new LockLostError('lost the run message lock to another replica');
        };
        let ts = run.message?.ts;
        if (!ts) {
          await mayCall('post');
          const posted = await chat.post(target, renderRun(run, now()));
          await store.setMessage(id, posted);
          await redis.hset(key, 'shown', version ?? '0');
          ts = posted.ts;
        } else if (Number(shown ?? 0) < Number(version ?? 0)) {
          await mayCall('edit');
          await chat.update(target, ts, renderRun(run, now()));
          await redis.hset(key, 'shown', version ?? '0');
        }
        // A reply whose post was under way when its deliverer died, or timed out, may be in Slack already: it is
        // posted again (losing it would be worse) and says so, since Slack has no idempotency key to ask with.
        let uncertain = inflight === 'reply';
        for (;;) {
          const text = await redis.lindex(repliesKey, 0);
          if (text === null) break;
          await mayCall('reply');
          await redis.hset(key, 'inflight', 'reply');
          replying = uncertain ? 'again' : 'fresh';
          await chat.post(target, { text: uncertain ? `${text} ${SENT_AGAIN}` : text }, { threadTs: ts });
          replying = undefined;
          await redis.multi().lpop(repliesKey).hdel(key, 'inflight').exec();
          uncertain = false;
        }
        if ((await FINISH.run(redis, [key, repliesKey, this.prefix], [id])) === 1) {
          this.backoffUntil.delete(id);
          return true;
        }
      }
      return false;
    } catch (error) {
      // Slack refused a reply's first post: the reply is known not to be there. A timeout or a broken connection
      // says nothing, and a failure of any other call leaves an earlier uncertain reply uncertain.
      if (replying === 'fresh' && (error as { code?: unknown })?.code !== 'slack_webapi_request_error') {
        await redis.hdel(key, 'inflight').catch(() => undefined);
      }
      this.backoffUntil.set(id, now() + retryDelayMs(error));
      if (channel) await pacer.holdAfter(channel, error);
      logger.warn({ err: error, run: id }, 'could not bring the run message up to date in Slack; the sweep retries');
      return false;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }
}
