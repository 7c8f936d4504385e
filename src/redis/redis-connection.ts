/**
 * How warren reaches Redis: one URL (`REDIS_URL`), or a Sentinel set-up (`REDIS_SENTINELS` with
 * `REDIS_SENTINEL_NAME`), where ioredis asks the sentinels for the current master and follows a failover by
 * itself. With Sentinel the URL still carries the password, user and database; its host is not used.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  url: string;
  sentinel?: { sentinels: Array<{ host: string; port: number }>; name: string };
}

export function connectRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  if (!target.sentinel) return new Redis(target.url, options);
  const url = new URL(target.url);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return new Redis({
    ...options,
    sentinels: target.sentinel.sentinels,
    name: target.sentinel.name,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(password ? { password } : {}),
    db: Number(url.pathname.slice(1) || 0),
    ...(url.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
  });
}
