/**
 * Schedules the sweeps on BullMQ: one job scheduler per cluster with a stable id (`sweep:<cluster>`), so every
 * replica upserting it at start-up leaves exactly one schedule, and each scheduled job is taken by one worker of
 * one replica. Schedulers of clusters no longer configured are removed. Shutdown closes the worker first (it
 * finishes the running sweep), then the queue, then their Redis connections.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';
import { connectRedis, type RedisTarget } from '../redis/redis-connection.js';

export const HEALTH_QUEUE = 'warren-health';
const BULL_PREFIX = 'warren:bull';

export interface SweepSchedulerOptions {
  redis: RedisTarget;
  clusters: string[];
  intervalMs: number;
  sweep(cluster: string): Promise<unknown>;
  logger: Logger;
  /** Key prefix of the BullMQ queue; tests give each run its own. */
  prefix?: string;
}

export class SweepScheduler {
  private readonly queue: Queue;
  private readonly worker: Worker;
  private readonly connections: Redis[] = [];

  private constructor(private readonly options: SweepSchedulerOptions) {
    const connection = () => {
      // BullMQ's blocking commands need maxRetriesPerRequest: null; errors are logged by the owner, not thrown.
      const redis = connectRedis(options.redis, { maxRetriesPerRequest: null });
      redis.on('error', () => undefined);
      this.connections.push(redis);
      return redis;
    };
    const prefix = options.prefix ?? BULL_PREFIX;
    this.queue = new Queue(HEALTH_QUEUE, { connection: connection(), prefix });
    this.worker = new Worker(
      HEALTH_QUEUE,
      async (job) => {
        await options.sweep(String(job.data.cluster));
      },
      {
        connection: connection(),
        prefix,
        concurrency: Math.max(1, Math.min(options.clusters.length, 4)),
        autorun: false,
      },
    );
    this.worker.on('failed', (job, error) => {
      options.logger.warn({ err: error, cluster: job?.data?.cluster }, 'health sweep failed; the next one retries');
    });
    // While Redis is down both emit an error on every reconnection attempt: one line per 30 s says enough (and an
    // unheard 'error' from the queue would go to the console unformatted).
    const errors = new LogThrottle(30_000);
    const onError = (source: string) => (error: Error) => {
      errors.pass('redis', (held) =>
        options.logger.warn(
          { err: error, source, held },
          'health scheduler cannot reach Redis; sweeps resume when it is back',
        ),
      );
    };
    this.worker.on('error', onError('worker'));
    this.queue.on('error', onError('queue'));
  }

  static async start(options: SweepSchedulerOptions): Promise<SweepScheduler> {
    const scheduler = new SweepScheduler(options);
    await scheduler.upsert();
    void scheduler.worker.run();
    return scheduler;
  }

  private async upsert(): Promise<void> {
    const wanted = new Set(this.options.clusters.map((c) => `sweep:${c}`));
    for (const existing of await this.queue.getJobSchedulers()) {
      if (existing.key && !wanted.has(existing.key)) await this.queue.removeJobScheduler(existing.key);
    }
    for (const cluster of this.options.clusters) {
      await this.queue.upsertJobScheduler(
        `sweep:${cluster}`,
        { every: this.options.intervalMs },
        {
          name: 'sweep',
          data: { cluster },
          opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 50 }, attempts: 1 },
        },
      );
    }
  }

  async stop(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    for (const redis of this.connections) redis.disconnect();
  }
}
