/**
 * Messages the broker throws away, alerted on a real RabbitMQ 4.0 cluster with warren reading the nodes' Prometheus
 * plugin as a kolla deployment has it: a message rejected and requeued past the quorum queue's default delivery
 * limit of 20, on a queue without a dead-letter exchange, is alerted as dropped, naming the queue; a publish to an
 * exchange with no binding is alerted as unroutable, naming the exchange, and the alert resolves once no more come
 * (the counters are cumulative: the checks judge their increase between sweeps).
 * 4.0 only (project integration-4.0): 3.10 gives quorum queues no default delivery limit.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import {
  counterSum,
  flushHarnessRedis,
  harnessKeys,
  SWEEPING_YAML,
  startHarnessWarren,
} from '../support/warren-harness.js';

const KEYS = harnessKeys('rabbitmq-4.0-drops-unroutable');
const PREFIX = `warren-drops-${randomUUID().slice(0, 6)}`;
const QUEUE = `${PREFIX}.requeued`;
const EXCHANGE = `${PREFIX}.nobody-binds`;
const YAML = `${SWEEPING_YAML}
`;
const ALERT_TIMEOUT = 30_000;

describe('dropped and unroutable messages on RabbitMQ 4.0', () => {
  const stack = inject('stack');
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;

  const text = (c: RecordedCall) => JSON.stringify(c.params.blocks);
  const alertFor = (alertId: string, needle: string) =>
    fake.waitForCall(
      'chat.postMessage',
      (c) =>
        c.params.channel === 'C0ALERTS' &&
        !c.params.thread_ts &&
        text(c).includes(`alert \`${alertId}\``) &&
        text(c).includes(needle),
      ALERT_TIMEOUT,
    );
  /** Two sweeps done: the second has the first's counters to judge increases against. */
  const swept = (check: string, sweeps = 2) =>
    (async () => {
      const until = Date.now() + ALERT_TIMEOUT;
      while ((await counterSum(warren, 'warren_health_check_outcomes_total', { check })) < sweeps) {
        if (Date.now() > until) throw new Error(`no ${sweeps} sweeps of ${check}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

  beforeAll(async () => {
    expect(stack.rabbitmq.series).toBe('4.0');
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack,
      fake,
      yaml: YAML,
      keyPrefix: KEYS,
      env: { RABBITMQ_PROMETHEUS_URL: stack.nodes.map((n) => n.prometheusUrl).join(',') },
    });
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
  }, 120_000);

  afterAll(async () => {
    if (amqp) {
      const ch = await amqp.createChannel();
      await ch.deleteQueue(QUEUE).catch(() => undefined);
      await ch.deleteExchange(EXCHANGE).catch(() => undefined);
      await amqp.close();
    }
    await warren?.stop();
    await fake?.stop();
  });

  it('alerts a message requeued past the delivery limit on a quorum queue without a DLX as dropped', async () => {
    await swept('delivery-limit');
    const ch = await amqp.createConfirmChannel();
    await ch.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    ch.sendToQueue(QUEUE, Buffer.from('poison'));
    await ch.waitForConfirms();
    let deliveries = 0;
    const dropped = new Promise<void>((resolve) => {
      void ch.consume(QUEUE, (m) => {
        if (!m) return;
        deliveries++;
        ch.nack(m, false, true);
        if (deliveries === 21) resolve();
      });
    });
    await dropped;
    const post = await alertFor('delivery-limit@default', QUEUE);
    expect(text(post)).toContain('more than 20 times');
    expect(text(post)).toContain('no dead-letter exchange');
    expect(deliveries).toBe(21);
    await ch.close();
  });

  it('alerts a publish to an exchange with no binding as unroutable, and resolves when they stop', async () => {
    await swept('unroutable');
    const ch = await amqp.createConfirmChannel();
    await ch.assertExchange(EXCHANGE, 'topic', { durable: false });
    for (let i = 0; i < 3; i++) ch.publish(EXCHANGE, 'compute.nowhere', Buffer.from('lost'));
    await ch.waitForConfirms();
    const post = await alertFor('unroutable@default', EXCHANGE);
    expect(text(post)).toContain('3 dropped');
    const ts = (post.reply as { ts: string }).ts;
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      ALERT_TIMEOUT,
    );
    await ch.close();
  });
});
