/**
 * The snapshot fetcher against the real 3-node cluster: a listing larger than one page, whole or page by page, consumer
 * counts joined from /api/consumers, connections with their oslo client properties, each node's health endpoints
 * asked of that node, and a dead management URL reported as unreachable while the others still answer.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queueKey } from '../../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';

describe('SnapshotFetcher against the real cluster', () => {
  const stack = inject('stack');
  const prefix = `warren-test-snap-${randomUUID().slice(0, 8)}`;
  const connectionName = `nova-conductor:4242:${randomUUID()}`;
  const dead = 'http://127.0.0.1:9';
  let amqp: ChannelModel;

  const fetcher = (urls: string[], pageSize = 0) =>
    new SnapshotFetcher('local', stackManagement(stack, 'local', urls), pageSize);

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
        mirrorSyncCritical: { ok: true },
        quorumCritical: { ok: true },
        alarms: { ok: true },
      });
    }
    expect(snapshot.endpoints[3]?.error).toMatch(/ECONNREFUSED/);
    // The listings still came from the nodes that answer.
    expect(snapshot.queues?.length).toBeGreaterThanOrEqual(1_100);
  });
});
