/**
 * Alert state in Redis, so a restart or a second replica neither posts an alert twice nor loses track of the
 * message to edit when it resolves. Per alert: its state (JSON), its ack; per check and cluster: the streak of
 * consecutive failing sweeps of each subject (the `for` rule); per cluster: the queue-depth history that the
 * growth checks compare against. Only the holder of a cluster's sweep lock writes state and streaks.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { AlertAck } from './alert-message.js';
import type { AlertState } from './alert-state.js';
import type { QueueHistory, QueueSample } from './health-check.js';

/** How long a resolved alert is kept (for its thread replies and `/rabbit alerts --all`). */
const RESOLVED_RETENTION_S = 7 * 24 * 3600;

export class AlertStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'warren:health:',
  ) {}

  private alertKey(id: string): string {
    return `${this.prefix}alert:${id}`;
  }

  async get(id: string): Promise<AlertState | undefined> {
    const json = await this.redis.get(this.alertKey(id));
    return json ? (JSON.parse(json) as AlertState) : undefined;
  }

  /** Saves the state; `also` adds writes that must land with it (the outbox's staged message, in one MULTI). */
  async put(state: AlertState, also?: (multi: ChainableCommander) => void): Promise<void> {
    const key = this.alertKey(state.id);
    const multi = this.redis.multi().sadd(`${this.prefix}alerts`, state.id);
    also?.(multi);
    if (state.status === 'resolved' && state.replies.length === 0) {
      multi.set(key, JSON.stringify(state), 'EX', RESOLVED_RETENTION_S).del(`${this.prefix}ack:${state.id}`);
    } else {
      multi.set(key, JSON.stringify(state));
    }
    await multi.exec();
  }

  /** Every stored alert (firing and recently resolved), oldest first. */
  async all(): Promise<AlertState[]> {
    const ids = await this.redis.smembers(`${this.prefix}alerts`);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => this.alertKey(id)));
    const gone = ids.filter((_, i) => values[i] === null);
    if (gone.length > 0) await this.redis.srem(`${this.prefix}alerts`, ...gone);
    return values
      .filter((v): v is string => v !== null)
      .map((v) => JSON.parse(v) as AlertState)
      .sort((a, b) => a.firedAt - b.firedAt);
  }

  async ack(id: string): Promise<AlertAck | undefined> {
    const json = await this.redis.get(`${this.prefix}ack:${id}`);
    return json ? (JSON.parse(json) as AlertAck) : undefined;
  }

  /** Records who is on it; false when someone already acked (their ack stands). */
  async setAck(id: string, ack: AlertAck): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}ack:${id}`, JSON.stringify(ack), 'NX')) === 'OK';
  }

  /**
   * Advances the streak of every subject found this sweep by one and forgets the others (a pass breaks a streak).
   * Returns the new streak per subject.
   */
  async advanceStreaks(cluster: string, check: string, subjects: string[]): Promise<Map<string, number>> {
    const key = `${this.prefix}streak:${cluster}:${check}`;
    const previous = await this.redis.hgetall(key);
    const next = new Map(subjects.map((s) => [s, Number(previous[s] ?? 0) + 1]));
    const multi = this.redis.multi().del(key);
    if (next.size > 0) multi.hset(key, Object.fromEntries([...next].map(([s, n]) => [s, String(n)])));
    await multi.exec();
    return next;
  }

  async history(cluster: string): Promise<Map<string, QueueSample[]>> {
    const json = await this.redis.get(`${this.prefix}history:${cluster}`);
    return new Map(json ? (Object.entries(JSON.parse(json)) as [string, QueueSample[]][]) : []);
  }

  /**
   * Appends this sweep's depths to the history, keeping `keep` samples per queue and only queues that hold
   * messages now (an empty queue has no growth to judge), so a cluster of 30,000 idle queues stores almost nothing.
   */
  async saveHistory(
    cluster: string,
    previous: QueueHistory,
    current: Iterable<[string, QueueSample]>,
    keep: number,
  ): Promise<void> {
    const next: Record<string, QueueSample[]> = {};
    for (const [key, sample] of current) {
      if (sample.messages === 0 && sample.unacked === 0) continue;
      next[key] = [...(previous.get(key) ?? []), sample].slice(-keep);
    }
    await this.redis.set(`${this.prefix}history:${cluster}`, JSON.stringify(next), 'EX', 24 * 3600);
  }
}
