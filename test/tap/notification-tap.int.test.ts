/**
 * The notification tap end to end on the real 3-node cluster and Redis: oslo wire-format notifications published
 * to topic exchanges arrive as grouped Slack messages (fake Slack) in the right channels; bursts become one message
 * updated in place; the tap survives the death of its node; late and misdeclared exchanges; malformed bodies.
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import { loadConfig } from '../../src/config/load.js';
import { tapSchema } from '../../src/config/tap-schema.js';
import { attachLocalStack } from '../../src/devstack/index.js';
import { createLogger } from '../../src/logger.js';
import { ManagementClient } from '../../src/management/management-client.js';
import { createMetrics } from '../../src/metrics.js';
import { TapService } from '../../src/tap/tap-service.js';
import { startWarren, type Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { OsloPublisher, osloMessage } from '../support/oslo-publisher.js';
import { type RecordingLog, recordingChat } from '../support/recording-chat.js';
import { scanningLogger } from '../support/secret-scan.js';
import { stackEnv } from '../support/stack-env.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys } from '../support/warren-harness.js';

const KEYS = harnessKeys('tap-notification-tap');

/** The tap's samples in thread replies' texts: each names its message_id once, and a reply may carry several. */
const samplesIn = (texts: readonly string[]) => texts.reduce((n, t) => n + (t.match(/message_id `/g)?.length ?? 0), 0);

const NOVA_LEGACY = 'nova-legacy-compute.instance.create.error';
const SIGNING_SECRET = 'tap-test-signing-secret';

describe('notification tap', () => {
  const stack = inject('stack');
  const late = `warren-late-${randomUUID().slice(0, 8)}`;
  let fake: FakeSlack;
  let warren: Warren;
  let publisher: OsloPublisher;

  const topLevelPosts = (predicate: (c: RecordedCall) => boolean) =>
    fake.callsTo('chat.postMessage').filter((c) => c.params.thread_ts === undefined && predicate(c));
  const textOf = (c: RecordedCall) => `${String(c.params.text)} ${JSON.stringify(c.params.blocks ?? [])}`;
  const eventCount = async (outcome: string) => {
    const metric = await warren.metrics.registry.getSingleMetric('warren_tap_events_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
  };
  const invalidCount = async (reason: string) => {
    const metric = await warren.metrics.registry.getSingleMetric('warren_tap_invalid_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
  };
  const bindingsBound = () =>
    warren.tap
      ?.status()[0]
      ?.bindings.filter((b) => b.state === 'bound')
      .map((b) => b.exchange) ?? [];

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);

    publisher = await OsloPublisher.connect(stack.nodes[0]?.amqpUrl as string);
    for (const exchange of ['nova', 'neutron', 'openstack', 'glance']) await publisher.declareExchange(exchange);
    fake = await FakeSlack.start();
    const dir = mkdtempSync(join(tmpdir(), 'warren-tap-'));
    const file = join(dir, 'warren.yaml');
    writeFileSync(
      file,
      `slack:
  alertChannel: C0ALERTS
  channelInterval: 150ms
access:
  operators: [U0OPER]
tap:
  exchangeRetry: 300ms
  updateInterval: 300ms
  groupWindow: 10m
  bindings:
    - {exchange: nova, routingKeys: [notifications.error, notifications.info, versioned_notifications.error, versioned_notifications.info]}
    - {exchange: neutron, routingKeys: [notifications.error, notifications.info]}
    - {exchange: openstack, routingKeys: [notifications.error, notifications.info]}
    - {exchange: glance, routingKeys: [notifications.info]}
    - {exchange: ${late}, routingKeys: [notifications.error]}
  routes:
    - {name: network, match: {exchange: [neutron], priority: [ERROR, CRITICAL]}, channel: C0NETWORK}
    - {name: errors, match: {priority: [ERROR, CRITICAL]}}
    - name: forced-down
      match: {eventType: service.update, payload: {nova_object.data.forced_down: true}}
      severity: warning
      template: "Service {service} on {host} forced down"
`,
    );
    const config = loadConfig({
      env: {
        ...stackEnv(stack),
        REDIS_KEY_PREFIX: KEYS,
        WARREN_CONFIG: file,
        SLACK_BOT_TOKEN: 'xoxb-tap-test',
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
      },
    });
    warren = await startWarren(config, {
      logger: scanningLogger(),
    });
    await waitUntil(() => bindingsBound().length === 4, 'the four existing exchanges to be bound');
  });

  afterAll(async () => {
    await warren?.stop();
    await publisher?.close();
    await fake?.stop();
    await flushHarnessRedis(stack, KEYS);
  });

  it('posts errors of both envelope versions to the routed channels, with the extracted fields', async () => {
    const unroutedBefore = await eventCount('unrouted');
    await publisher.publish(osloMessage(`${NOVA_LEGACY}.v1.json`));
    await publisher.publish(osloMessage(`${NOVA_LEGACY}.v2.json`));
    await publisher.publish(osloMessage('cinder-volume.attach.error.v2.json'));
    await publisher.publish(
      osloMessage('neutron-port.create.end.v1.json', (m) => {
        m.priority = 'ERROR';
        m.event_type = 'port.create.error';
      }),
      'neutron',
      'notifications.error',
    );
    await publisher.publish(osloMessage('nova-versioned-service.update.v2.json'));
    await publisher.publish(osloMessage('glance-image.activate.v2.json'));
    await publisher.confirm();

    const nova = await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes('compute.instance.create.error'));
    expect(nova.params.channel).toBe('C0ALERTS');
    expect(textOf(nova)).toContain('cmp-01.dc1.example.net');
    const network = await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes('port.create.error'));
    expect(network.params.channel).toBe('C0NETWORK');
    const cinder = await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes('volume.attach.error'));
    expect(cinder.params.channel).toBe('C0ALERTS');
    const forced = await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes('forced down'));
    expect(String(forced.params.text)).toMatch(/^Service nova-compute on \S+ forced down: 1 event\(s\)$/);

    // v1 and v2 of the same failure on the same host are one group: one message, both samples in its thread.
    const novaGroup = await waitUntil(async () => {
      const group = topLevelPosts((c) => textOf(c).includes('compute.instance.create.error'));
      return group.length === 1 ? group : undefined;
    }, 'one message for the nova error group');
    expect(novaGroup).toHaveLength(1);
    const replies = await waitUntil(() => {
      const r = fake
        .callsTo('chat.postMessage')
        .filter(
          (c) => c.params.thread_ts !== undefined && String(c.params.text).includes('compute.instance.create.error'),
        )
        .map((c) => String(c.params.text));
      return samplesIn(r) === 2 ? r : undefined;
    }, 'two thread samples for the nova group');
    expect(replies[0]).toContain('RescheduledException');
    expect(replies[0]).toContain('instance `178b0921-8f85-4257-88b6-2e743b5a975c`');

    // INFO (glance image.activate) is counted, not posted.
    await waitUntil(async () => (await eventCount('unrouted')) > unroutedBefore, 'the INFO event to be counted');
    expect(topLevelPosts((c) => textOf(c).includes('image.activate'))).toEqual([]);
  });

  it('turns a burst of 1,000 errors into one message updated in place, with every event counted', async () => {
    const host = `burst-${randomUUID().slice(0, 6)}`;
    const before = (await eventCount('new')) + (await eventCount('grouped'));
    const burst = () => osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`));
    // The first event opens the group's message; the other 999 must edit it, not post again.
    await publisher.publish(burst());
    await publisher.confirm();
    const first = await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes(host), 20_000);
    for (let i = 0; i < 999; i++) await publisher.publish(burst());
    await publisher.confirm();
    const final = await waitUntil(
      () =>
        fake
          .callsTo('chat.update')
          .find((c) => textOf(c).includes(host) && String(c.params.text).endsWith(': 1000 event(s)')),
      'the group message to be edited to 1000 events',
      45_000,
    );
    expect(final.params.ts).toBe((first.reply as { ts: string }).ts);
    expect(final.params.channel).toBe('C0ALERTS');
    // The metric is counted just after Redis records the event, so it may trail the message by a moment.
    await waitUntil(
      async () => (await eventCount('new')) + (await eventCount('grouped')) - before >= 1000,
      'all 1000 events to be counted',
    );
    expect((await eventCount('new')) + (await eventCount('grouped')) - before).toBe(1000);
    expect(topLevelPosts((c) => textOf(c).includes(host))).toHaveLength(1);
    const replies = () =>
      fake
        .callsTo('chat.postMessage')
        .filter((c) => c.params.thread_ts !== undefined && String(c.params.text).includes(host));
    // Samples are paced like everything else sent to the channel, so they may trail the last edit; those waiting
    // at a flush share one reply.
    const sampleCount = () => samplesIn(replies().map((c) => String(c.params.text)));
    await waitUntil(() => sampleCount() >= 5, 'five thread samples');
    await warren.tap?.grouper.flush();
    expect(sampleCount()).toBe(5);
    expect(replies().length).toBeLessThan(5);
    expect(new Set(replies().map((c) => c.params.thread_ts))).toEqual(new Set([(first.reply as { ts: string }).ts]));
    expect(fake.callsTo('chat.update').filter((c) => textOf(c).includes(host)).length).toBeLessThan(100);
  });

  it('reconnects to another node when its node dies, and keeps delivering without duplicate posts', async () => {
    const handle = attachLocalStack(stack);
    const status = warren.tap?.status()[0];
    const node = stack.nodes.find((n) => status?.node === `127.0.0.1:${n.amqpPort}`);
    expect(node).toBeDefined();
    const name = (node as { name: string }).name;
    await handle.killNode(name);
    try {
      await waitUntil(
        () => {
          const s = warren.tap?.status()[0];
          return s?.connected && s.node !== status?.node && s.bindings.filter((b) => b.state === 'bound').length === 4;
        },
        'the tap to reconnect to another node and re-bind',
        60_000,
      );
      expect(warren.tap?.status()[0]?.reconnects).toBeGreaterThanOrEqual(1);
      const survivor = stack.nodes.find((n) => n.name !== name) as { amqpUrl: string };
      const other = await OsloPublisher.connect(survivor.amqpUrl);
      const host = `failover-${randomUUID().slice(0, 6)}`;
      const message = osloMessage(`${NOVA_LEGACY}.v1.json`, (m) => (m.publisher_id = `compute.${host}`));
      await other.publish(message);
      await other.publish(message); // a redelivery of the same message_id must not post twice
      await other.confirm();
      await other.close();
      await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes(host), 20_000);
      expect(topLevelPosts((c) => textOf(c).includes(host))).toHaveLength(1);
      await waitUntil(
        async () => (await eventCount('duplicate')) >= 1,
        'the repeated message_id to be counted as duplicate',
      );
    } finally {
      await handle.startNode(name);
      // A node back from kill -9 can stay without management stats; the tests after this one need them.
      await restoreCluster(stack, handle);
      await publisher.close();
      publisher = await OsloPublisher.connect(stack.nodes.find((n) => n.name !== name)?.amqpUrl as string);
    }
  }, 300_000);

  it('binds an exchange that appears after start', async () => {
    expect(warren.tap?.status()[0]?.bindings.find((b) => b.exchange === late)?.state).toBe('waiting_for_exchange');
    await publisher.declareExchange(late);
    await waitUntil(() => bindingsBound().includes(late), `exchange ${late} to be bound`);
    const host = `late-${randomUUID().slice(0, 6)}`;
    await publisher.publish(
      osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)),
      late,
      'notifications.error',
    );
    await publisher.confirm();
    await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes(host), 20_000);
  });

  it('answers /rabbit tap and pauses and resumes for operators only', async () => {
    const ask = (userId: string, text: string) =>
      warren.router.reply({ userId, channelId: 'C0OPS', text, respond: async () => undefined });
    const status = await ask('U0ANYONE', 'tap');
    expect(status.text).toMatch(/^\*default\*: connected to `127\.0\.0\.1:\d+`/);
    expect(status.text).toContain('`nova` notifications.error');
    expect((await ask('U0ANYONE', 'tap pause')).text).toBe(
      'Not allowed: only operators (access.operators) may run this; <@U0ANYONE> is not one.',
    );
    expect(await ask('U0OPER', 'tap pause')).toEqual({
      visibility: 'in_channel',
      text: '<@U0OPER> paused the notification tap for default.',
    });
    // While paused the event waits in warren's queue on the broker instead of being consumed.
    const host = `paused-${randomUUID().slice(0, 6)}`;
    await publisher.publish(osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)));
    await publisher.confirm();
    const queue = warren.tap?.status()[0]?.bindings.find((b) => b.exchange === 'nova')?.queue as string;
    const management = warren.clusters.get('default').management;
    await waitUntil(async () => {
      // The management API lists a queue shortly after it is created; a 404 until then is not a failure.
      const q = await management.get(
        `/api/queues/%2F/${encodeURIComponent(queue)}`,
        z.looseObject({ messages_ready: z.number().optional() }),
      );
      return (q.messages_ready ?? 0) >= 1;
    }, 'the event to wait in the paused queue').catch(async (error) => {
      await warren.tap?.resume();
      throw error;
    });
    expect(topLevelPosts((c) => textOf(c).includes(host))).toEqual([]);
    expect((await ask('U0OPER', 'tap resume')).text).toBe('<@U0OPER> resumed the notification tap for default.');
    await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes(host), 20_000);
  });

  it('acks and counts malformed bodies by reason, and keeps consuming', async () => {
    const reasons = ['not_json', 'encoding', 'oversized', 'schema', 'envelope'] as const;
    const before = await Promise.all(reasons.map(invalidCount));
    await publisher.publishRaw('nova', 'notifications.error', Buffer.from('this is not json'));
    await publisher.publishRaw('nova', 'notifications.error', Buffer.from([0xff, 0xfe, 0x7b]));
    await publisher.publishRaw('nova', 'notifications.error', Buffer.alloc(1_100_000, 0x20));
    await publisher.publishRaw('nova', 'notifications.error', Buffer.from('{"event_type": 42}'));
    await publisher.publishRaw(
      'nova',
      'notifications.error',
      Buffer.from('{"oslo.version": "2.0", "oslo.message": "{nope"}'),
    );
    const host = `after-garbage-${randomUUID().slice(0, 6)}`;
    await publisher.publish(osloMessage(`${NOVA_LEGACY}.v1.json`, (m) => (m.publisher_id = `compute.${host}`)));
    await publisher.confirm();
    await fake.waitForCall('chat.postMessage', (c) => textOf(c).includes(host), 20_000);
    const after = await Promise.all(reasons.map(invalidCount));
    expect(after.map((n, i) => n - (before[i] as number))).toEqual([1, 1, 1, 1, 1]);
  });

  it('keeps a group queued in Redis while Slack fails, then posts it once', async () => {
    const host = `slack-down-${randomUUID().slice(0, 6)}`;
    const mark = fake.calls.length;
    let failures = 0;
    // Only this group's message fails, twice: other groups may be flushing at the same time.
    fake.setHandler('chat.postMessage', (c) =>
      textOf(c).includes(host) && c.params.thread_ts === undefined && failures++ < 2
        ? { ok: false, error: 'internal_error' }
        : {},
    );
    await publisher.publish(osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)));
    await publisher.confirm();
    await fake.waitForCall(
      'chat.postMessage',
      (c) => c.status === 200 && c.seq > mark && textOf(c).includes(host) && (c.reply as { ok?: boolean }).ok === true,
      30_000,
    );
    const attempts = fake.calls
      .slice(mark)
      .filter((c) => c.method === 'chat.postMessage' && c.params.thread_ts === undefined && textOf(c).includes(host));
    fake.setHandler('chat.postMessage', undefined);
    expect(attempts.map((c) => (c.reply as { ok?: boolean }).ok)).toEqual([false, false, true]);
    const metric = await warren.metrics.registry.getSingleMetric('warren_tap_slack_total')?.get();
    expect(metric?.values.find((v) => v.labels.action === 'error')?.value).toBeGreaterThanOrEqual(2);
  });

  it('paces every Slack call to a channel, whatever the burst', async () => {
    // Its own burst: twelve new groups at once, each a post and a sample reply, all to one channel.
    const mark = fake.calls.length;
    const hosts = Array.from({ length: 12 }, () => `paced-${randomUUID().slice(0, 6)}`);
    for (const host of hosts) {
      await publisher.publish(osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)));
    }
    await publisher.confirm();
    await waitUntil(
      () => hosts.every((h) => topLevelPosts((c) => textOf(c).includes(h)).length === 1),
      'a message for each of the 12 groups',
      30_000,
    );
    const times = fake.calls
      .slice(mark)
      .filter((c) => ['chat.postMessage', 'chat.update'].includes(c.method) && c.params.channel === 'C0ALERTS')
      .map((c) => c.at);
    expect(times.length).toBeGreaterThanOrEqual(12);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    // 150 ms between claims in Redis; the fake's clock sees them after a little network jitter.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(120);
  });

  it('leaves no queue behind when warren stops', async () => {
    const queues = (warren.tap?.status()[0]?.bindings ?? []).flatMap((b) => (b.queue ? [b.queue] : []));
    expect(queues.length).toBeGreaterThanOrEqual(4);
    const management = warren.clusters.get('default').management;
    await warren.stop();
    const names = z.array(z.looseObject({ name: z.string() }));
    await waitUntil(async () => {
      const listed = await management.get('/api/queues', names, { columns: 'name' });
      return queues.every((q) => !listed.some((l) => l.name === q));
    }, 'the tap queues to disappear with the connection');
  });
});

describe('notification tap with declareExchanges', () => {
  const stack = inject('stack');

  it('binds an exchange that exists with other flags as it is, and declares a missing one', async () => {
    const publisher = await OsloPublisher.connect(stack.nodes[1]?.amqpUrl as string);
    await publisher.declareExchange('nova'); // non-durable, as oslo's default amqp_durable_queues=false
    const fresh = `warren-durable-${randomUUID().slice(0, 8)}`;
    const chat = recordingChat();
    const redis = new Redis(stack.redisUrl);
    const config = loadConfig({ env: stackEnv(stack) });
    const service = new TapService({
      clusters: config.clusters,
      tap: tapSchema.parse({
        declareExchanges: true,
        exchangeDurable: true,
        bindings: [
          { exchange: 'nova', routingKeys: ['notifications.error'] },
          { exchange: fresh, routingKeys: ['notifications.error'] },
        ],
      }),
      alertChannel: 'C0ALERTS',
      redis,
      keyPrefix: `${KEYS}tap:`,
      pacer: new ChannelPacer(redis, 1_000, `${KEYS}slack:pace:`),
      chat,
      metrics: createMetrics(),
      logger: createLogger('silent'),
    });
    service.start();
    try {
      const bindings = await waitUntil(() => {
        const b = service.status()[0]?.bindings;
        return b?.every((x) => x.state === 'bound' || x.state === 'failed') ? b : undefined;
      }, 'both bindings to settle');
      // Redeclaring nova durable would fail with 406; warren checks first and binds to it as oslo declared it.
      expect(bindings.map((b) => [b.exchange, b.state])).toEqual([
        ['nova', 'bound'],
        [fresh, 'bound'],
      ]);
      const management = new ManagementClient(config.clusters[0] as (typeof config.clusters)[0]);
      const flags = z.looseObject({ durable: z.boolean() });
      expect((await management.get('/api/exchanges/%2F/nova', flags)).durable).toBe(false);
      expect((await management.get(`/api/exchanges/%2F/${fresh}`, flags)).durable).toBe(true);
      for (const exchange of ['nova', fresh]) {
        const host = `declared-${randomUUID().slice(0, 6)}`;
        await publisher.publish(
          osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)),
          exchange,
          'notifications.error',
        );
        await publisher.confirm();
        await waitUntil(
          () => service.grouper.flush().then(() => chat.posts.find((p) => p.text.includes(host))),
          `the event on ${exchange} to be posted`,
        );
      }
    } finally {
      await service.stop();
      redis.disconnect();
      await publisher.close();
    }
  });
});

describe('notification tap in durable mode', () => {
  const stack = inject('stack');

  it('keeps events published while warren is down in a capped, expiring quorum queue', async () => {
    const publisher = await OsloPublisher.connect(stack.nodes[2]?.amqpUrl as string);
    const exchange = `warren-durable-mode-${randomUUID().slice(0, 8)}`;
    await publisher.declareExchange(exchange);
    const chat = recordingChat();
    const redis = new Redis(stack.redisUrl);
    const config = loadConfig({ env: stackEnv(stack) });
    const cluster = {
      ...config.clusters[0],
      name: `durable${randomUUID().slice(0, 6)}`,
    } as (typeof config.clusters)[0];
    const make = () =>
      new TapService({
        clusters: [cluster],
        tap: tapSchema.parse({
          mode: 'durable',
          durableQueue: { expires: '10m', maxLength: 1000 },
          bindings: [{ exchange, routingKeys: ['notifications.error'] }],
        }),
        alertChannel: 'C0ALERTS',
        redis,
        keyPrefix: `${KEYS}tap:`,
        pacer: new ChannelPacer(redis, 1_000, `${KEYS}slack:pace:`),
        chat,
        metrics: createMetrics(),
        logger: createLogger('silent'),
      });
    const queueName = `warren.tap.${cluster.name}`;
    let service = make();
    service.start();
    try {
      await waitUntil(() => service.status()[0]?.bindings[0]?.state === 'bound', 'the durable binding');
      expect(service.status()[0]?.bindings[0]?.queue).toBe(queueName);
      await service.stop();

      const host = `while-down-${randomUUID().slice(0, 6)}`;
      await publisher.publish(
        osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)),
        exchange,
        'notifications.error',
      );
      await publisher.confirm();

      const management = new ManagementClient(cluster);
      const queue = await waitUntil(
        () =>
          management
            .get(
              `/api/queues/%2F/${queueName}`,
              z.looseObject({
                type: z.string(),
                arguments: z.record(z.string(), z.unknown()),
                messages: z.number().optional(),
              }),
            )
            .then((q) => ((q.messages ?? 0) >= 1 ? q : undefined))
            .catch(() => undefined),
        'the event to wait in the durable queue',
      );
      expect(queue.type).toBe('quorum');
      expect(queue.arguments).toMatchObject({ 'x-expires': 600_000, 'x-max-length': 1000 });

      service = make();
      service.start();
      await waitUntil(
        () => service.grouper.flush().then(() => chat.posts.find((p) => p.text.includes(host))),
        'the event to be posted after restart',
      );
    } finally {
      await service.stop();
      redis.disconnect();
      await publisher.deleteQueue(queueName);
      await publisher.close();
    }
  });
});

describe('two warren replicas on one Redis', () => {
  const stack = inject('stack');

  it('post each group once and count each event once, though both receive every event', async () => {
    const publisher = await OsloPublisher.connect(stack.nodes[0]?.amqpUrl as string);
    const exchange = `warren-replicas-${randomUUID().slice(0, 8)}`;
    await publisher.declareExchange(exchange);
    const log: RecordingLog = { posts: [], updates: [] };
    const { posts, updates } = log;
    const config = loadConfig({ env: stackEnv(stack) });
    const redises = [new Redis(stack.redisUrl), new Redis(stack.redisUrl)];
    const metrics = [createMetrics(), createMetrics()];
    const replicas = [0, 1].map(
      (i) =>
        new TapService({
          clusters: config.clusters,
          tap: tapSchema.parse({
            bindings: [{ exchange, routingKeys: ['notifications.error'] }],
            updateInterval: '100ms',
          }),
          alertChannel: 'C0ALERTS',
          redis: redises[i] as Redis,
          keyPrefix: `${KEYS}tap:`,
          pacer: new ChannelPacer(redises[i] as Redis, 50, `${KEYS}slack:pace:`),
          chat: recordingChat(log, `replica${i}`),
          metrics: metrics[i] as ReturnType<typeof createMetrics>,
          logger: createLogger('silent'),
          flushEveryMs: 50,
        }),
    );
    for (const r of replicas) r.start();
    try {
      await waitUntil(
        () => replicas.every((r) => r.status()[0]?.bindings[0]?.state === 'bound'),
        'both replicas to bind',
      );
      const host = `replicas-${randomUUID().slice(0, 6)}`;
      for (let i = 0; i < 20; i++) {
        await publisher.publish(
          osloMessage(`${NOVA_LEGACY}.v2.json`, (m) => (m.publisher_id = `compute.${host}`)),
          exchange,
          'notifications.error',
        );
      }
      await publisher.confirm();
      await waitUntil(() => replicas.every((r) => r.status()[0]?.received === 20), 'both replicas to receive all 20');
      const counted = async (outcome: string) => {
        let total = 0;
        for (const m of metrics) {
          const values = (await m.registry.getSingleMetric('warren_tap_events_total')?.get())?.values ?? [];
          total += values.filter((v) => v.labels.outcome === outcome).reduce((sum, v) => sum + v.value, 0);
        }
        return total;
      };
      // `received` counts on arrival; outcomes are counted once each event has been recorded in Redis.
      await waitUntil(
        async () => (await counted('new')) + (await counted('grouped')) + (await counted('duplicate')) === 40,
        'all 40 deliveries to have an outcome',
      );
      expect((await counted('new')) + (await counted('grouped'))).toBe(20);
      expect(await counted('duplicate')).toBe(20);
      await waitUntil(
        () => [...posts.map((p) => p.text), ...updates].some((t) => t.includes(host) && t.endsWith(': 20 event(s)')),
        'the group message to show 20 events',
      );
      const samples = () =>
        samplesIn(posts.filter((p) => p.thread !== undefined && p.text.includes(host)).map((p) => p.text));
      await waitUntil(() => samples() >= 5, 'five samples');
      await Promise.all(replicas.map((r) => r.grouper.flush()));
      expect(posts.filter((p) => p.thread === undefined && p.text.includes(host))).toHaveLength(1);
      expect(samples()).toBe(5);
    } finally {
      for (const r of replicas) await r.stop();
      for (const redis of redises) redis.disconnect();
      await publisher.close();
    }
  });
});
