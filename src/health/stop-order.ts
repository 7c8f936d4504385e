/**
 * When each node of a cluster was last seen running (runbook 1.6, the whole-cluster restart order). After the whole
 * cluster has stopped, the node seen running last is the one that stopped last: it holds the newest cluster state
 * and starts on its own, while every other node waits for it in its boot and gives up if it never comes. Kept in
 * Redis, not in the sweep's memory, so that it outlives a restart of warren (an outage of the cluster it watches
 * often comes with one) and is shared by replicas. Every sweep that could list the nodes records the running ones
 * (a newer time never loses to an older one) and drops the nodes the cluster no longer lists (forgotten).
 */
import type { Redis } from 'ioredis';
import { RedisScript } from '../redis/redis-script.js';

/** A record older than this says nothing about the current outage. */
const RETAIN_MS = 30 * 24 * 3_600_000;

const RECORD = new RedisScript(`
for i = 1, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if not current or tonumber(current) < tonumber(ARGV[i + 1]) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('PEXPIRE', KEYS[1], ${RETAIN_MS})
return 1
`);

export class StopOrderStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(cluster: string): string {
    return `${this.prefix}seen-running:${cluster}`;
  }

  /** One sweep's node listing, taken at `at`: who runs now, and who is still a member at all. */
  async observe(cluster: string, nodes: readonly { name: string; running: boolean }[], at: number): Promise<void> {
    const key = this.key(cluster);
    const listed = new Set(nodes.map((n) => n.name));
    const gone = (await this.redis.hkeys(key)).filter((node) => !listed.has(node));
    if (gone.length > 0) await this.redis.hdel(key, ...gone);
    const running = nodes.filter((n) => n.running);
    if (running.length > 0) {
      await RECORD.run(
        this.redis,
        [key],
        running.flatMap((n) => [n.name, String(at)]),
      );
    }
  }

  /** Each node's last time seen running (epoch ms). */
  async lastSeenRunning(cluster: string): Promise<Map<string, number>> {
    const fields = await this.redis.hgetall(this.key(cluster));
    return new Map(Object.entries(fields).map(([node, at]) => [node, Number(at)]));
  }
}
