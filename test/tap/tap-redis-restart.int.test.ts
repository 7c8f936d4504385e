/**
 * The notification tap across a Redis crash: Redis (a process of this test's own, with AOF) is killed with SIGKILL
 * under a running warren, notifications keep arriving while it is down, and it is started again from its AOF.
 * Every notification is counted in its group exactly once: none is acked unrecorded while Redis is away (the broker
 * keeps them), none recorded twice after it is back (message_id de-duplication), and the group's one message is
 * edited on, not posted again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import { type AofRedis, startAofRedis } from '../support/aof-redis.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { OsloPublisher, osloMessage } from '../support/oslo-publisher.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { counterSum, startHarnessWarren } from '../support/warren-harness.js';

const NOVA_ERROR = 'nova-legacy-compute.instance.create.error.v2.json';
const [BEFORE, DURING, AFTER] = [50, 100, 50];

describe('the tap across a Redis restart', () => {
  const stack = inject('stack');
  const exchange = `warren-tap-redis-${randomUUID().slice(0, 8)}`;
  const host = `redis-crash-${randomUUID().slice(0, 6)}`;
  let redis: AofRedis;
  let fake: FakeSlack;
  let warren: Warren;
  let publisher: OsloPublisher;

  const ours = (c: RecordedCall) => `${String(c.params.text)} ${JSON.stringify(c.params.blocks ?? [])}`.includes(host);
  /** The event count the group's message shows, as last sent to Slack. */
  const shownCounts = () =>
    fake.calls
      .filter((c) => (c.method === 'chat.update' || c.method === 'chat.postMessage') && !c.params.thread_ts && ours(c))
      .map((c) => Number(/: (\d+) event\(s\)$/.exec(String(c.params.text))?.[1] ?? 0));
  const recorded = async () =>
    (await counterSum(warren, 'warren_tap_events_total', { outcome: 'new' })) +
    (await counterSum(warren, 'warren_tap_events_total', { outcome: 'grouped' }));
  const readyz = async () => (await fetch(`http://127.0.0.1:${warren.httpPort}/readyz`)).status;

  async function publish(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await publisher.publish(
        osloMessage(NOVA_ERROR, (m) => (m.publisher_id = `compute.${host}`)),
        exchange,
        'notifications.error',
      );
    }
    await publisher.confirm();
  }

  beforeAll(async () => {
    redis = await startAofRedis();
    publisher = await OsloPublisher.connect(stack.nodes[0]?.amqpUrl as string);
    await publisher.declareExchange(exchange);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack,
      fake,
      redisUrl: redis.url,
      yaml: `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
health:
  enabled: false
tap:
  updateInterval: 300ms
  groupWindow: 10m
  bindings:
    - {exchange: ${exchange}, routingKeys: [notifications.error]}
  routes:
    - {name: errors, match: {priority: [ERROR, CRITICAL]}}
`,
    });
    await waitUntil(() => warren.tap?.status()[0]?.bindings[0]?.state === 'bound', 'the tap to bind');
  });

  afterAll(async () => {
    await warren?.stop();
    await publisher?.close();
    await fake?.stop();
    await redis?.remove();
  });

  it('counts every notification once and edits the one group message', async () => {
    await publish(BEFORE);
    await waitUntil(() => shownCounts().includes(BEFORE), `the group message to show ${BEFORE} events`, 30_000);

    await redis.kill();
    const downAt = Date.now();
    await waitUntil(async () => (await readyz()) === 503, '/readyz to report Redis down', 20_000);
    await publish(DURING);
    // While Redis is away the tap can record nothing, so it must not ack: the broker still holds all of them.
    const management = stackManagement(stack);
    const [binding] = await management.get(
      `/api/exchanges/%2F/${encodeURIComponent(exchange)}/bindings/source`,
      z.array(z.object({ destination: z.string() })),
    );
    const tapQueue = binding?.destination as string;
    await waitUntil(
      async () => (await freshQueue(management, '/', tapQueue))?.messages === DURING,
      `the broker to hold the ${DURING} notifications published while Redis is down`,
      30_000,
    );
    expect(await recorded()).toBe(BEFORE);

    await redis.start();
    const backAt = Date.now();
    await publish(AFTER);
    const total = BEFORE + DURING + AFTER;
    await waitUntil(() => shownCounts().includes(total), `the group message to show ${total} events`, 60_000);
    const caughtUpS = (Date.now() - backAt) / 1000;
    await waitUntil(async () => (await recorded()) >= total, 'every event to be counted');
    await warren.tap?.grouper.flush();

    const duplicates = await counterSum(warren, 'warren_tap_events_total', { outcome: 'duplicate' });
    console.log(
      `[figures] Redis down ${((backAt - downAt) / 1000).toFixed(1)} s; ${total} notifications, group complete ` +
        `${caughtUpS.toFixed(1)} s after Redis was back; ${duplicates} redelivery(ies) recognised as duplicates`,
    );
    expect(await recorded()).toBe(total);
    expect(Math.max(...shownCounts())).toBe(total);
    expect(
      fake.callsTo('chat.postMessage').filter((c) => !c.params.thread_ts && c.params.channel === 'C0ALERTS' && ours(c)),
    ).toHaveLength(1);
    await waitUntil(
      async () => (await freshQueue(management, '/', tapQueue))?.messages === 0,
      "the tap's queue to be drained",
      30_000,
    );
  }, 240_000);
});
