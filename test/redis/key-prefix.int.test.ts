/**
 * REDIS_KEY_PREFIX on a Redis of the test's own, empty at the start: a warren that sweeps (a backlog alert), taps
 * (a tap group posted), answers commands (the definitions summary kept) and has a run requested (run, its message,
 * the audit log) writes every one of its keys, BullMQ's included, under the prefix and none elsewhere.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import { type AofRedis, startAofRedis } from '../support/aof-redis.js';
import { FakeSlack } from '../support/fake-slack.js';
import { OsloPublisher, osloMessage } from '../support/oslo-publisher.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { slash, startHarnessWarren } from '../support/warren-harness.js';

const PREFIX = 'warren-staging:';
const OPERATOR = 'U0OPERATOR';
const CHANNEL = 'C0OPS';
const YAML = `
slack:
  alertChannel: C0ALERTS
access:
  operators: [${OPERATOR}]
  approvers: [${OPERATOR}, U0APPROVER]
  channels: [${CHANNEL}]
health:
  interval: 1s
  defaultFor: 1
  thresholds:
    backlogMessages: 50
`;

describe('REDIS_KEY_PREFIX', () => {
  const stack = inject('stack');
  const queue = `warren-test-prefix-${randomUUID().slice(0, 8)}`;
  let redis: AofRedis;
  let client: Redis;
  let fake: FakeSlack;
  let warren: Warren;

  beforeAll(async () => {
    redis = await startAofRedis();
    client = new Redis(redis.url);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack,
      fake,
      yaml: YAML,
      redisUrl: redis.url,
      env: { REDIS_KEY_PREFIX: PREFIX },
    });
  });

  afterAll(async () => {
    await warren?.stop();
    const amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    await (await amqp.createChannel()).deleteQueue(queue).catch(() => undefined);
    await amqp.close();
    await fake?.stop();
    client?.disconnect();
    await redis?.remove();
  });

  it('writes every key of the tap, the sweeps, the commands and the runs under the prefix', async () => {
    // A sweep's alert: a backlog of 60 messages, above the threshold of 50.
    const amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    const channel = await amqp.createConfirmChannel();
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 60; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await amqp.close();
    await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === 'C0ALERTS' && JSON.stringify(c.params.blocks ?? '').includes(queue),
      60_000,
    );
    // A tap group.
    const publisher = await OsloPublisher.connect(stack.nodes[0]?.amqpUrl as string);
    try {
      const message = osloMessage('nova-legacy-compute.instance.create.error.v2.json');
      await publisher.declareExchange(message.exchange);
      await waitUntil(
        () =>
          (warren.tap?.status()[0]?.bindings ?? []).some((b) => b.exchange === message.exchange && b.state === 'bound'),
        `the tap bound to ${message.exchange}`,
        30_000,
      );
      await publisher.publish(message);
      await fake.waitForCall('chat.postMessage', (c) => String(c.params.text).includes('event(s)'), 30_000);
    } finally {
      await publisher.close();
    }
    // A command that keeps state, and a run requested (once the queue's stats show the messages the plan purges).
    await waitUntil(
      async () => (await freshQueue(stackManagement(stack), '/', queue))?.messages_ready === 60,
      'the broker to count the messages',
      30_000,
    );
    expect(String((await slash(warren, fake, OPERATOR, 'definitions', CHANNEL)).text)).toMatch(/definitions/i);
    expect(String((await slash(warren, fake, OPERATOR, `fix purge-queue ${queue}`, CHANNEL)).text)).toMatch(/run `r-/);

    const keys = await client.keys('*');
    const families = new Set(keys.map((k) => k.slice(PREFIX.length).split(':')[0]));
    expect(keys.filter((k) => !k.startsWith(PREFIX))).toEqual([]);
    for (const family of ['tap', 'health', 'bull', 'commands', 'remediation', 'slack']) {
      expect(families, `${family} keys under ${PREFIX}`).toContain(family);
    }
  }, 180_000);
});
