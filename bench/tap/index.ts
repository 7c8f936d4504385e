/**
 * bench/tap: the full tap pipeline (consume, decode, validate, route, group in Redis, hand to a counting Slack
 * sink) against the best a hand-written amqplib consumer does: it only acks, one multiple-ack per turn of the event
 * loop (as warren's AckBatcher does), on the same broker, with the same prefetch, in the same run. Both drain a queue
 * pre-loaded with the same realistic oslo v2 notifications (mostly INFO, some ERROR spread over hosts), and both
 * clocks stop when the last delivery has been acked (warren's flushed work included), not when it was received.
 * Prints events/s for both, the ratio, the peak RSS while warren drains, and what each side cost in CPU per event
 * (this process, the broker, Redis), which tells a side that waited from one that ran out of CPU; ends with one BENCH
 * line.
 *
 * BENCH_TAP_MODE=durable runs warren's durable tap (a named quorum queue) against a bare consumer of a quorum queue.
 *
 *   npm run bench -- tap            (BENCH_EVENTS=20000 for a quick run; BENCH_TAP_MODE=durable)
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

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
/** `exclusive` (the default tap) or `durable`: warren's named quorum queue, against a bare consumer of one. */
const MODE = process.env.BENCH_TAP_MODE === 'durable' ? 'durable' : 'exclusive';
const PREFETCH = 200;
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

async function main(): Promise<void> {
  console.log(`bench/tap: ${EVENTS} notifications, prefetch ${PREFETCH}, ${MODE} queues`);
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
    const { queue } =
      MODE === 'durable'
        ? await bare.assertQueue(`bench-bare-${randomUUID()}`, {
            durable: true,
            arguments: { 'x-queue-type': 'quorum' },
          })
        : await bare.assertQueue('', { exclusive: true });
    for (const key of KEYS) await bare.bindQueue(queue, EXCHANGE, key);
    await preload(publisher, EVENTS);
    await bare.prefetch(PREFETCH);
    let bareAcked = 0;
    let pending = 0;
    let last: ConsumeMessage | undefined;
    cpu.start();
    const bareStart = performance.now();
    await bare.consume(queue, (msg) => {
      if (!msg) return;
      if (!last) {
        setImmediate(() => {
          bare.ack(last as ConsumeMessage, true);
          bareAcked += pending;
          pending = 0;
          last = undefined;
        });
      }
      last = msg;
      pending++;
    });
    await waitFor(() => bareAcked >= EVENTS, 'the bare consumer');
    const bareSeconds = (performance.now() - bareStart) / 1000;
    const bareCpu = cpu.perEvent(EVENTS);
    if (MODE === 'durable') await bare.deleteQueue(queue);
    await bareConnection.close();

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
    await preload(publisher, EVENTS);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    cpu.start();
    const warrenStart = performance.now();
    await service.resume();
    await waitFor(() => (service.status()[0]?.acked ?? 0) >= EVENTS, 'warren to ack the whole queue');
    const warrenSeconds = (performance.now() - warrenStart) / 1000;
    const warrenCpu = cpu.perEvent(EVENTS);
    clearInterval(sampler);
    await service.grouper.flush();
    await service.stop();
    redis.disconnect();
    await publisherConnection.close();

    const barePerS = Math.round(EVENTS / bareSeconds);
    const warrenPerS = Math.round(EVENTS / warrenSeconds);
    const ratio = Math.round((warrenPerS / barePerS) * 100) / 100;
    const rssMb = Math.round(peakRss / 1024 / 1024);
    console.log(`  bare amqplib consumer: ${barePerS} events/s (${bareSeconds.toFixed(1)} s)`);
    console.log(`  warren tap pipeline:   ${warrenPerS} events/s (${warrenSeconds.toFixed(1)} s)`);
    console.log(`  ratio ${ratio}, peak RSS ${rssMb} MB, Slack sink: ${posts} posts, ${updates} updates`);
    const cpuLine = (c: { node: number; broker: number; redis: number }) =>
      `this process ${c.node}, broker ${c.broker}, Redis ${c.redis}`;
    console.log(`  CPU µs per event: bare side ${cpuLine(bareCpu)}; warren side ${cpuLine(warrenCpu)}`);
    console.log(`  ${runInfo('end')}`);
    console.log(
      `BENCH tap ${JSON.stringify({ mode: MODE, events: EVENTS, warren_per_s: warrenPerS, bare_per_s: barePerS, ratio, rss_mb: rssMb, cpu_us_per_event: { bare: bareCpu, warren: warrenCpu } })}`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
