/**
 * The whole cluster stopped and started again, in the right order (the last node to stop starts first), under a
 * running warren with the tap and the sweeps on. warren needs no restart: while the cluster is down /readyz says so;
 * afterwards the tap reconnects and re-binds by itself and delivers the next error, and sweeps succeed again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { notification } from '../../src/demo/oslo-notifications.js';
import { attachLocalStack } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster, restoreWhenFinished } from '../support/cluster-health.js';
import { FakeSlack } from '../support/fake-slack.js';
import { OsloPublisher } from '../support/oslo-publisher.js';
import { waitUntil } from '../support/wait-until.js';
import { counterSum, flushHarnessRedis, harnessKeys, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('cluster-cluster-restart');
const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
tap:
  exchangeRetry: 300ms
  updateInterval: 300ms
  bindings:
    - {exchange: nova, routingKeys: [notifications.error]}
health:
  interval: 1s
`;

describe('the whole cluster stopped and started again', () => {
  const desc = inject('stack');
  const stack = attachLocalStack(desc);
  let fake: FakeSlack;
  let warren: Warren;

  const readyz = async () => (await fetch(`http://127.0.0.1:${warren.httpPort}/readyz`)).status;
  const bound = () => warren.tap?.status()[0]?.bindings.every((b) => b.state === 'bound') === true;

  beforeAll(async () => {
    await restoreCluster(desc, stack);
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    const publisher = await OsloPublisher.connect(desc.nodes[0]?.amqpUrl as string);
    await publisher.declareExchange('nova');
    await publisher.close();
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
    await waitUntil(bound, 'the tap to bind', 30_000);
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
  });

  it('reconnects by itself: readiness, tap and sweeps come back without restarting warren', async () => {
    const names = desc.nodes.map((n) => n.name);
    restoreWhenFinished(desc, stack);
    // rabbitmqctl's own words, should one fail: its exit code alone says nothing about why.
    const ctl = async (name: string, action: string, timeoutMs: number) => {
      const result = await stack.rabbitmqctl(name, [action], { timeoutMs });
      expect(result.code, `${action} on ${name}: ${result.stderr}${result.stdout}`).toBe(0);
    };
    for (const name of [...names].reverse()) await ctl(name, 'stop_app', 120_000);
    await waitUntil(async () => (await readyz()) === 503, '/readyz to report the cluster down', 30_000);
    expect(warren.tap?.status()[0]?.connected).toBe(false);

    // The last node to stop goes first: it has the newest state and waits for nobody.
    for (const name of names) await ctl(name, 'start_app', 180_000);
    await waitUntil(async () => (await readyz()) === 200, '/readyz to report ready again', 120_000);
    await waitUntil(() => warren.tap?.status()[0]?.connected, 'the tap to reconnect', 120_000);

    // oslo's exchanges are not durable: the restart removed `nova`, and the tap waits for it. The next publish
    // of a nova service declares it again, as here.
    const host = `restart-${randomUUID().slice(0, 6)}`;
    const publisher = await OsloPublisher.connect(desc.nodes[0]?.amqpUrl as string);
    await publisher.declareExchange('nova');
    await waitUntil(
      bound,
      () => `the tap to bind the exchange again; tap status: ${JSON.stringify(warren.tap?.status())}`,
      60_000,
    );
    const wire = notification('nova.instance.create.error', host, 2);
    await publisher.publishRaw(wire.exchange, wire.routingKey, wire.body);
    await publisher.confirm();
    await publisher.close();
    await fake.waitForCall('chat.postMessage', (c) => String(c.params.text).includes(host), 60_000);

    const sweeps = await counterSum(warren, 'warren_health_sweeps_total', { outcome: 'ok' });
    await waitUntil(
      async () => (await counterSum(warren, 'warren_health_sweeps_total', { outcome: 'ok' })) >= sweeps + 2,
      'sweeps to succeed again',
      90_000,
    );
  }, 600_000);
});
