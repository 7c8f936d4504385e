/**
 * The snapshot fetcher against the real 3-node cluster: a listing larger than one page, whole or page by page, consumer
 * counts joined from /api/consumers, connections with their oslo client properties, each node's health endpoints
 * asked of that node, and a dead management URL reported as unreachable while the others still answer; and queue
 * depths read from each node's Prometheus plugin, equal to the management API's, with the fallback when a node's
 * metrics do not come; and one queue the schema refuses (through a proxy that alters only that queue of the
 * broker's real answer) left out and counted while the sweep keeps every other queue.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LocalStackDescription } from '../../src/devstack/index.js';
import { queueKey } from '../../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { type RejectedItem, rejectionReporter } from '../../src/management/listing.js';
import { ManagementClient } from '../../src/management/management-client.js';
import { PrometheusEndpoints } from '../../src/management/prometheus-endpoints.js';
import { createMetrics } from '../../src/metrics.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';

describe('SnapshotFetcher against the real cluster', () => {
  const stack = inject('stack');
  const prefix = `warren-test-snap-${randomUUID().slice(0, 8)}`;
  const connectionName = `nova-conductor:4242:${randomUUID()}`;
  const dead = 'http://127.0.0.1:9';
  let amqp: ChannelModel;

  const fetcher = (urls: string[], pageSize = 0) =>
    new SnapshotFetcher('local', stackManagement(stack, 'local', urls), { pageSize });

  beforeAll(async () => {
    amqp = await connect(stack.nodes[2]?.amqpUrl as string, { clientProperties: { connection_name: connectionName } });
    const channel = await amqp.createChannel();
    // More than two pages of 500.
    await Promise.all(Array.from({ length: 1_100 }, (_, i) => channel.assertQueue(`${prefix}-${i}`)));
    await channel.consume(`${prefix}-0`, () => undefined);
    await channel.consume(`${prefix}-0`, () => undefined);
    channel.sendToQueue(`${prefix}-1`, Buffer.from('x'));
    await waitUntil(
      async () => {
        const snapshot = await fetcher([stack.nodes[0]?.managementUrl as string]).fetch();
        const q1 = snapshot.queues?.find((q) => q.name === `${prefix}-1`);
        const q0 = snapshot.queues?.find((q) => q.name === `${prefix}-0`);
        return (
          q0?.consumers === 2 &&
          (q1?.messages ?? 0) > 0 &&
          snapshot.connections?.some((c) => c.client_properties.connection_name === connectionName)
        );
      },
      'the broker to report the new queues, consumers, message and connection',
      30_000,
    );
  }, 120_000);

  afterAll(async () => {
    const channel = await amqp.createChannel();
    await Promise.all(Array.from({ length: 1_100 }, (_, i) => channel.deleteQueue(`${prefix}-${i}`)));
    await amqp.close();
  }, 120_000);

  it.each([
    ['in one request', 0],
    ['in pages of 500', 500],
  ])('lists every queue %s with consumer counts and depths', async (_, pageSize) => {
    const snapshot = await fetcher(
      stack.nodes.map((n) => n.managementUrl),
      pageSize,
    ).fetch();
    const ours = (snapshot.queues ?? []).filter((q) => q.name.startsWith(`${prefix}-`));
    expect(ours).toHaveLength(1_100);
    expect(new Set(ours.map(queueKey)).size).toBe(1_100);
    const byName = new Map(ours.map((q) => [q.name, q]));
    expect(byName.get(`${prefix}-0`)?.consumers).toBe(2);
    expect(byName.get(`${prefix}-1`)).toMatchObject({ consumers: 0, messages: 1, messages_ready: 1, vhost: '/' });
    expect(byName.get(`${prefix}-2`)?.node).toMatch(/@localhost$/);
    expect(snapshot.errors).toEqual({});
  });

  it('reads nodes, policies and connections with the oslo connection name', async () => {
    const snapshot = await fetcher(stack.nodes.map((n) => n.managementUrl)).fetch();
    expect(snapshot.nodes?.map((n) => n.name).sort()).toEqual(stack.nodes.map((n) => n.name).sort());
    expect(Array.isArray(snapshot.policies)).toBe(true);
    const ours = snapshot.connections?.find((c) => c.client_properties.connection_name === connectionName);
    expect(ours).toMatchObject({ node: stack.nodes[2]?.name, user: stack.username, peer_host: '127.0.0.1' });
    expect(ours?.timeout).toBeGreaterThan(0);
  });

  it('asks each node its own health endpoints and reports a dead URL as unreachable', async () => {
    const urls = stack.nodes.map((n) => n.managementUrl);
    const snapshot = await fetcher([...urls, dead]).fetch();
    expect(snapshot.endpoints.map((e) => [e.url, e.node, e.reachable])).toEqual([
      ...stack.nodes.map((n) => [n.managementUrl, n.name, true]),
      [dead, undefined, false],
    ]);
    for (const endpoint of snapshot.endpoints.slice(0, 3)) {
      expect(endpoint.health).toEqual({
        // 4.0 has no classic mirrors: its endpoint is not asked (broker-version.ts)
        mirrorSyncCritical: stack.rabbitmq.series === '4.0' ? undefined : { ok: true },
        quorumCritical: { ok: true },
        alarms: { ok: true },
      });
    }
    expect(snapshot.endpoints[3]?.error).toMatch(/ECONNREFUSED/);
    // The listings still came from the nodes that answer.
    expect(snapshot.queues?.length).toBeGreaterThanOrEqual(1_100);
  });

  describe('with the Prometheus plugin endpoints', () => {
    const depthsOf = (
      queues:
        | {
            name: string;
            messages: number;
            messages_ready: number;
            messages_unacknowledged: number;
            consumers: number;
          }[]
        | undefined,
    ) =>
      new Map(
        (queues ?? [])
          .filter((q) => q.name.startsWith(prefix))
          .map((q) => [q.name, [q.messages, q.messages_ready, q.messages_unacknowledged, q.consumers].join(' ')]),
      );
    const withMetrics = (prometheus: string[]) =>
      new SnapshotFetcher('local', stackManagement(stack), {
        prometheus: new PrometheusEndpoints(prometheus, { timeoutMs: 10_000 }),
      });
    let other: ChannelModel;
    let channel: Awaited<ReturnType<ChannelModel['createChannel']>>;

    beforeAll(async () => {
      // A quorum queue (its figures live on its leader's node only) with messages, and a classic queue on another
      // node with deliveries taken and not acked, so every figure differs from zero somewhere.
      other = await connect(stack.nodes[1]?.amqpUrl as string);
      channel = await other.createChannel();
      await channel.assertQueue(`${prefix}-quorum`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      for (let i = 0; i < 4; i++) channel.sendToQueue(`${prefix}-quorum`, Buffer.from('q'));
      await channel.assertQueue(`${prefix}-unacked`);
      for (let i = 0; i < 3; i++) channel.sendToQueue(`${prefix}-unacked`, Buffer.from('u'));
      await channel.prefetch(2);
      await channel.consume(`${prefix}-unacked`, () => undefined);
    }, 60_000);

    afterAll(async () => {
      await channel.deleteQueue(`${prefix}-quorum`);
      await channel.deleteQueue(`${prefix}-unacked`);
      await other.close();
    }, 60_000);

    it('reads every depth and consumer count from the metrics, the same as the management API counts them', async () => {
      // Publishing is asynchronous: first the broker's own count, then the metrics, which follow it.
      let management = new Map<string, string>();
      await waitUntil(
        async () => {
          management = depthsOf((await fetcher(stack.nodes.map((n) => n.managementUrl)).fetch()).queues);
          return management.get(`${prefix}-quorum`) === '4 4 0 0' && management.get(`${prefix}-unacked`) === '3 1 2 1';
        },
        'the management API to count the messages published and delivered',
        30_000,
      );
      expect(management.get(`${prefix}-0`)).toBe('0 0 0 2');
      // The metrics are written every stats interval (5 s): wait until they have caught up with the broker.
      let last: Awaited<ReturnType<SnapshotFetcher['fetch']>> | undefined;
      await waitUntil(
        async () => {
          last = await withMetrics(stack.nodes.map((n) => n.prometheusUrl)).fetch();
          const fromMetrics = depthsOf(last.queues);
          return fromMetrics.size === management.size && [...management].every(([k, v]) => fromMetrics.get(k) === v);
        },
        'the Prometheus metrics to show what the management API shows',
        30_000,
      );
      expect(last?.depths).toEqual({ from: 'prometheus' });
      expect(last?.errors).toEqual({});
      expect(last?.queues?.find((q) => q.name === `${prefix}-quorum`)).toMatchObject({ type: 'quorum' });
    });

    it('reads the depths from the management API when a node hosting queues gives no metrics, and says why', async () => {
      const snapshot = await withMetrics([
        stack.nodes[0]?.prometheusUrl as string,
        stack.nodes[1]?.prometheusUrl as string,
        dead,
      ]).fetch();
      expect(snapshot.depths).toMatchObject({ from: 'management' });
      const fallback = snapshot.depths?.from === 'management' ? snapshot.depths.fallback : undefined;
      expect(fallback).toContain(`no queue metrics from ${stack.nodes[2]?.name}`);
      expect(fallback).toMatch(/127\.0\.0\.1:9\/metrics\/detailed.* did not answer: ECONNREFUSED/);
      const depths = depthsOf(snapshot.queues);
      expect(depths.get(`${prefix}-quorum`)).toBe('4 4 0 0');
      expect(depths.get(`${prefix}-unacked`)).toBe('3 1 2 1');
    });
  });

  describe('when one queue of the listing fails validation', () => {
    let proxy: Server;
    const odd = `${prefix}-odd`;

    beforeAll(async () => {
      await (await amqp.createChannel()).assertQueue(odd);
      await waitUntil(
        async () =>
          (await fetcher([stack.nodes[0]?.managementUrl as string]).fetch()).queues?.some((q) => q.name === odd),
        'the broker to list the odd queue',
      );
      proxy = await oddItemProxy(stack, stack.nodes[0]?.managementUrl as string, odd);
    });

    afterAll(async () => {
      await new Promise((resolve) => proxy.close(resolve));
      await (await amqp.createChannel()).deleteQueue(odd);
    });

    it.each([
      ['in one request', 0],
      ['in pages of 500', 500],
    ])(
      'leaves that queue out %s, counts and logs it, and the sweep still has every other queue',
      async (_, pageSize) => {
        const { registry, itemsRejected } = createMetrics();
        const rejected: RejectedItem[] = [];
        const report = rejectionReporter({ cluster: 'local', counter: itemsRejected });
        const management = new ManagementClient(
          {
            name: 'local',
            amqp: [],
            management: [`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`],
            managementUser: stack.username,
            managementPassword: stack.password,
            vhost: '/',
          },
          {
            onRejected: (r) => {
              rejected.push(r);
              report(r);
            },
          },
        );
        const snapshot = await new SnapshotFetcher('local', management, { pageSize }).fetch();
        expect(snapshot.errors).toEqual({});
        const names = new Set(snapshot.queues?.map((q) => q.name));
        expect(names.has(odd)).toBe(false);
        expect(Array.from({ length: 1_100 }, (_, i) => `${prefix}-${i}`).filter((n) => !names.has(n))).toEqual([]);
        expect(snapshot.queues?.find((q) => q.name === `${prefix}-0`)?.consumers).toBe(2);
        expect(rejected).toEqual([
          expect.objectContaining({ part: 'queues', item: `//${odd}`, field: 'messages', path: '/api/queues' }),
        ]);
        expect(await registry.getSingleMetricAsString('warren_management_items_rejected_total')).toContain(
          '{part="queues"} 1',
        );
      },
    );
  });
});

/**
 * A pass-through to one node's real management API that turns the `messages` of one queue into a string in queue
 * listings, as a broker version with an unforeseen field would: everything else is the broker's own answer. It asks
 * the broker for JSON (the fetcher's BERT request falls back to JSON, as with a broker that lacks BERT).
 */
async function oddItemProxy(stack: LocalStackDescription, target: string, odd: string): Promise<Server> {
  const authorization = `Basic ${Buffer.from(`${stack.username}:${stack.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    void (async () => {
      const upstream = await fetch(`${target}${req.url ?? '/'}`, {
        headers: { authorization, accept: 'application/json' },
      });
      let text = await upstream.text();
      if (upstream.status === 200 && (req.url ?? '').startsWith('/api/queues')) {
        const body = JSON.parse(text) as unknown;
        const items = (Array.isArray(body) ? body : (body as { items: unknown[] }).items) as Record<string, unknown>[];
        for (const item of items) if (item.name === odd) item.messages = 'many';
        text = JSON.stringify(body);
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
