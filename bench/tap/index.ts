/**
 * bench/tap: the full tap pipeline (consume, decode, validate, route, group in Redis, hand to a counting Slack
 * sink) against the best a hand-written amqplib consumer does: it only acks, one multiple-ack per turn of the event
 * loop (as warren's AckBatcher does), on the same broker, with the same prefetch, in the same run. Both drain a queue
 * pre-loaded with the same realistic oslo v2 notifications (mostly INFO, some ERROR spread over hosts), and both
 * clocks stop when the last delivery has been acked (warren's flushed work included), not when it was received.
 * The two sides take turns over several rounds, the side that goes first alternating, and the ratio is the median
 * of the rounds' ratios: on this two-core machine one bare drain of the same queue ran anywhere from 36k to 52k/s
 * within minutes, so a single pair of drains says more about the moment than about warren. Every round's ratio is
 * printed and in the BENCH line, with the pooled ratio (all events over all time, per side). Also printed: the peak
 * RSS while warren drains, and what each side cost in CPU per event (this process, the broker, Redis), which tells
 * a side that waited from one that ran out of CPU.
 *
 * Defaults: 10 rounds of 50,000 events per side (about 2 minutes). Rounds of 200,000 showed the broker's own
 * swings (its CPU per event from 23 to 126 µs for the same drain); ten shorter rounds give a steadier median.
 *
 * BENCH_TAP_MODE=durable runs warren's durable tap (a named quorum queue) against a bare consumer of a quorum queue.
 *
 *   npm run bench -- tap            (BENCH_EVENTS=200000, BENCH_ROUNDS=5; BENCH_TAP_MODE=durable)
 */

import { randomUUID } from 'node:crypto';
import { type Channel, type ConsumeMessage, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { tapSchema } from '../../src/config/tap-schema.js';
import { startLocalStack } from '../../src/devstack/index.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { TapService } from '../../src/tap/tap-service.js';
import { cpuSeconds } from '../support/process-cpu.js';
import { runInfo } from '../support/run-info.js';
import { median, round } from '../support/stats.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
/** `exclusive` (the default tap) or `durable`: warren's named quorum queue, against a bare consumer of one. */
const MODE = process.env.BENCH_TAP_MODE === 'durable' ? 'durable' : 'exclusive';
const PREFETCH = 200;
/** Rounds of both sides; the ratio is the median of the rounds' ratios (BENCH_ROUNDS). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const EXCHANGE = 'nova';
const KEYS = ['notifications.info', 'notifications.error'];

function notification(i: number): { key: string; body: Buffer } {
  const error = i % 10 === 0;
  const host = `cmp-${String(i % 50).padStart(2, '0')}.dc1.example.net`;
  const message = {
    message_id: randomUUID(),
    publisher_id: `compute.${host}`,
    event_type: error ? 'compute.instance.create.error' : 'compute.instance.update',
    priority: error ? 'ERROR' : 'INFO',
    timestamp: '2026-11-22 13:23:30.497700',
    _unique_id: randomUUID().replace(/-/g, ''),
    _context_request_id: `req-${randomUUID()}`,
    _context_project: '6f70656e737461636b20342065766572',
    payload: {
      tenant_id: '6f70656e737461636b20342065766572',
      instance_id: randomUUID(),
      host,
      state: error ? 'error' : 'active',
      display_name: `vm-${i}`,
      instance_type: 'm1.medium',
      memory_mb: 4096,
      disk_gb: 40,
      ...(error
        ? { exception: "RescheduledException('Build of instance was re-scheduled')", message: 'No valid host' }
        : {}),
    },
  };
  return {
    key: error ? 'notifications.error' : 'notifications.info',
    body: Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(message) })),
  };
}

async function preload(channel: Channel, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const n = notification(i);
    if (!channel.publish(EXCHANGE, n.key, n.body, { contentType: 'application/json' })) {
      await new Promise((resolve) => channel.once('drain', resolve));
    }
  }
  await (channel as Channel & { waitForConfirms(): Promise<void> }).waitForConfirms();
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** CPU microseconds per event spent by this process, the broker and Redis from `start()` to `perEvent()`. */
function cpuMeter(brokerPids: number[], redisPid: number) {
  const read = () => ({
    node: process.cpuUsage(),
    broker: cpuSeconds(brokerPids),
    redis: cpuSeconds([redisPid]),
  });
  let from = read();
  return {
    start: () => {
      from = read();
    },
    perEvent: (events: number) => {
      const to = read();
      const us = (seconds: number) => Math.round((seconds * 1e6) / events);
      const node = process.cpuUsage(from.node);
      return {
        node: us((node.user + node.system) / 1e6),
        broker: us(to.broker - from.broker),
        redis: us(to.redis - from.redis),
      };
    },
  };
}

interface Side {
  perS: number;
  /** Share of the drain this process's event loop was busy (performance.eventLoopUtilization). */
  busy: number;
  seconds: number;
  cpu: { node: number; broker: number; redis: number };
}

async function main(): Promise<void> {
  console.log(
    `bench/tap: ${ROUNDS} rounds of ${EVENTS} notifications per side, prefetch ${PREFETCH}, ${MODE} queues ` +
      '(the side that goes first alternates)',
  );
  console.log(`  ${runInfo('start')}`);
  const stack = await startLocalStack({ nodes: 1, log: (line) => console.log(`  [devstack] ${line}`) });
  try {
    const url = stack.nodes[0]?.amqpUrl as string;
    const cpu = cpuMeter(Object.values(stack.pids.rabbit), stack.pids.redis);
    const publisherConnection = await connect(url);
    const publisher = await publisherConnection.createConfirmChannel();
    await publisher.assertExchange(EXCHANGE, 'topic', { durable: false });

    // Baseline: a bare consumer that acks and does nothing else, batching its acks per turn of the event loop.
    const bareConnection = await connect(url);
    const bare = await bareConnection.createChannel();
    await bare.prefetch(PREFETCH);

    /** Times one side's drain, from its start until it resolves (the last delivery acked). */
    const measure = async (drain: () => Promise<void>): Promise<Side> => {
      cpu.start();
      const loop = performance.eventLoopUtilization();
      const start = performance.now();
      await drain();
      const seconds = (performance.now() - start) / 1000;
      return {
        perS: Math.round(EVENTS / seconds),
        busy: round(performance.eventLoopUtilization(loop).utilization),
        seconds,
        cpu: cpu.perEvent(EVENTS),
      };
    };

    // Each round gets a fresh queue: the broker's cost per event of a reused one rose round after round (26 to 55 µs
    // over ten rounds on 3.10), and the baseline is the best a plain client does, not one on a worn-out queue.
    const runBare = async (): Promise<Side> => {
      const { queue } =
        MODE === 'durable'
          ? await bare.assertQueue(`bench-bare-${randomUUID()}`, {
              durable: true,
              arguments: { 'x-queue-type': 'quorum' },
            })
          : await bare.assertQueue('', { exclusive: true });
      for (const key of KEYS) await bare.bindQueue(queue, EXCHANGE, key);
      await preload(publisher, EVENTS);
      let acked = 0;
      let pending = 0;
      let last: ConsumeMessage | undefined;
      let consumerTag = '';
      const side = await measure(async () => {
        ({ consumerTag } = await bare.consume(queue, (msg) => {
          if (!msg) return;
          if (!last) {
            setImmediate(() => {
              bare.ack(last as ConsumeMessage, true);
              acked += pending;
              pending = 0;
              last = undefined;
            });
          }
          last = msg;
          pending++;
        }));
        await waitFor(() => acked >= EVENTS, 'the bare consumer');
      });
      await bare.cancel(consumerTag);
      await bare.deleteQueue(queue);
      return side;
    };

    // warren: the real TapService, paused while its queue is loaded, timed from resume to the last ack.
    const redis = new Redis(stack.redisUrl, { enableAutoPipelining: true });
    let posts = 0;
    let updates = 0;
    const sink: ChatPort = {
      post: async (channel) => ({ channel, ts: String(++posts) }),
      update: async () => {
        updates++;
      },
    };
    const service = new TapService({
      clusters: [
        {
          name: 'bench',
          amqp: [url],
          management: [stack.nodes[0]?.managementUrl as string],
          managementUser: stack.username,
          managementPassword: stack.password,
          vhost: '/',
        },
      ],
      tap: tapSchema.parse({
        mode: MODE,
        bindings: [{ exchange: EXCHANGE, routingKeys: KEYS }],
        prefetch: PREFETCH,
        // The whole preload has to fit: the durable queue's default cap (100,000) would drop its head.
        durableQueue: { maxLength: EVENTS * 2 },
      }),
      alertChannel: 'C0BENCH',
      redis,
      pacer: new ChannelPacer(redis, 1_000),
      chat: sink,
      metrics: createMetrics(),
      logger: createLogger('warn'),
    });
    service.start();
    await waitFor(() => service.status()[0]?.bindings[0]?.state === 'bound', 'the tap to bind', 60_000);
    await service.pause();
    let peakRss = process.memoryUsage().rss;
    let warrenAcked = 0;

    const runWarren = async (): Promise<Side> => {
      await preload(publisher, EVENTS);
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }, 50);
      const side = await measure(async () => {
        await service.resume();
        warrenAcked += EVENTS;
        await waitFor(() => (service.status()[0]?.acked ?? 0) >= warrenAcked, 'warren to ack the whole queue');
      });
      clearInterval(sampler);
      await service.pause();
      return side;
    };

    const rounds: { bare: Side; warren: Side; ratio: number }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Alternating which side goes first keeps a drift of the machine (or of the broker) out of the ratio.
      const [first, second] = r % 2 === 0 ? [runBare, runWarren] : [runWarren, runBare];
      const a = await first();
      const b = await second();
      const [bareSide, warrenSide] = r % 2 === 0 ? [a, b] : [b, a];
      const ratio = round(warrenSide.perS / bareSide.perS);
      rounds.push({ bare: bareSide, warren: warrenSide, ratio });
      console.log(
        `  round ${r + 1} (${r % 2 === 0 ? 'bare' : 'warren'} first): bare ${bareSide.perS}/s, warren ` +
          `${warrenSide.perS}/s, ratio ${ratio}; event loop busy: bare ${bareSide.busy}, warren ${warrenSide.busy}; ` +
          `CPU µs per event: bare ${cpuLine(bareSide.cpu)}; warren ${cpuLine(warrenSide.cpu)}`,
      );
    }
    await service.grouper.flush();
    await service.stop();
    redis.disconnect();
    await bareConnection.close();
    await publisherConnection.close();

    const pooled = (side: 'bare' | 'warren') =>
      Math.round((EVENTS * ROUNDS) / rounds.reduce((sum, r) => sum + r[side].seconds, 0));
    const meanCpu = (side: 'bare' | 'warren') => {
      const mean = (key: 'node' | 'broker' | 'redis') =>
        Math.round(rounds.reduce((sum, r) => sum + r[side].cpu[key], 0) / rounds.length);
      return { node: mean('node'), broker: mean('broker'), redis: mean('redis') };
    };
    const ratio = round(median(rounds.map((r) => r.ratio)));
    const barePerS = pooled('bare');
    const warrenPerS = pooled('warren');
    const pooledRatio = round(warrenPerS / barePerS);
    const rssMb = Math.round(peakRss / 1024 / 1024);
    console.log(`  bare amqplib consumer: ${barePerS} events/s over all rounds`);
    console.log(`  warren tap pipeline:   ${warrenPerS} events/s over all rounds`);
    console.log(
      `  median round ratio ${ratio} (target ≥ 0.85 ${ratio >= 0.85 ? 'met' : 'MISSED'}), pooled ratio ` +
        `${pooledRatio}, peak RSS ${rssMb} MB, Slack sink: ${posts} posts, ${updates} updates`,
    );
    console.log(
      `  mean CPU µs per event: bare side ${cpuLine(meanCpu('bare'))}; warren side ${cpuLine(meanCpu('warren'))}`,
    );
    console.log(`  ${runInfo('end')}`);
    console.log(
      `BENCH tap ${JSON.stringify({ mode: MODE, events: EVENTS, rounds: rounds.map((r) => r.ratio), warren_per_s: warrenPerS, bare_per_s: barePerS, ratio, pooled_ratio: pooledRatio, rss_mb: rssMb, cpu_us_per_event: { bare: meanCpu('bare'), warren: meanCpu('warren') } })}`,
    );
  } finally {
    await stack.stop();
  }
}

const cpuLine = (c: { node: number; broker: number; redis: number }) =>
  `this process ${c.node}, broker ${c.broker}, Redis ${c.redis}`;

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
