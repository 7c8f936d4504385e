/**
 * The previous `/rabbit definitions` summary of each cluster, in Redis (`warren:commands:definitions:<cluster>`),
 * so the next one can say what was added and removed. It holds names only, by kind: never a password hash, a
 * permission pattern, a parameter's value or a policy's definition. Must not read the broker.
 */
import type { Redis } from 'ioredis';

/** Names by kind (`queues`: `vhost/name`, …), each list sorted. */
export interface DefinitionsSummary {
  at: number;
  names: Record<string, string[]>;
}

/** A cluster's summary outlives a quiet month, not more: an older one compares with too much to be useful. */
const TTL_SECONDS = 30 * 24 * 3600;

export class DefinitionsStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'warren:commands:definitions:',
  ) {}

  async previous(cluster: string): Promise<DefinitionsSummary | undefined> {
    const json = await this.redis.get(`${this.prefix}${cluster}`);
    return json ? (JSON.parse(json) as DefinitionsSummary) : undefined;
  }

  async save(cluster: string, summary: DefinitionsSummary): Promise<void> {
    await this.redis.set(`${this.prefix}${cluster}`, JSON.stringify(summary), 'EX', TTL_SECONDS);
  }
}
