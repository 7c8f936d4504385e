/**
 * Silences: an operator's "I know, stop telling me" for one alert (`<check>@<cluster>`) or for a check on every
 * cluster, with author, reason and expiry. Stored in one Redis hash so every replica sees them; expired silences
 * are ignored when matched and pruned when listed.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface Silence {
  id: string;
  /** An alert id (`zombie-queues@prod`) or a check id (`zombie-queues`). */
  target: string;
  author: string;
  reason: string;
  createdAt: number;
  expiresAt: number;
}

export function silenceMatches(silence: Silence, alertId: string, now: number): boolean {
  if (silence.expiresAt <= now) return false;
  return silence.target === alertId || alertId.startsWith(`${silence.target}@`);
}

export class SilenceStore {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix = 'warren:health:',
  ) {
    this.key = `${prefix}silences`;
  }

  async add(input: Omit<Silence, 'id' | 'createdAt'>, now: number): Promise<Silence> {
    const silence: Silence = { id: `s-${randomBytes(3).toString('hex')}`, createdAt: now, ...input };
    await this.redis.hset(this.key, silence.id, JSON.stringify(silence));
    return silence;
  }

  /** Active silences, oldest first; expired ones are removed on the way. */
  async active(now: number): Promise<Silence[]> {
    const all = await this.redis.hgetall(this.key);
    const active: Silence[] = [];
    const expired: string[] = [];
    for (const [id, json] of Object.entries(all)) {
      const silence = JSON.parse(json) as Silence;
      if (silence.expiresAt <= now) expired.push(id);
      else active.push(silence);
    }
    if (expired.length > 0) await this.redis.hdel(this.key, ...expired);
    return active.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** The removed silence, or undefined when no silence has that id. */
  async remove(id: string): Promise<Silence | undefined> {
    const json = await this.redis.hget(this.key, id);
    if (!json) return undefined;
    await this.redis.hdel(this.key, id);
    return JSON.parse(json) as Silence;
  }

  async matching(alertId: string, now: number): Promise<Silence | undefined> {
    return (await this.active(now)).find((s) => silenceMatches(s, alertId, now));
  }
}
