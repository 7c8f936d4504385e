/**
 * Listings validated item by item (src/management/listing.ts): the parser, the reporter warren runs with, and the
 * ManagementClient applying it to every array answer and every page.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LogThrottle } from '../../src/log-throttle.js';
import { createLogger } from '../../src/logger.js';
import { listingPart, parseListing, type RejectedItem, rejectionReporter } from '../../src/management/listing.js';
import { ManagementClient } from '../../src/management/management-client.js';
import { queueSchema } from '../../src/management/schemas.js';
import { createMetrics } from '../../src/metrics.js';

const quorum = (name: string, online: unknown) => ({
  name,
  vhost: '/',
  type: 'quorum',
  members: ['rabbit@a', 'rabbit@b'],
  online,
  leader: 'rabbit@a',
  messages: 1,
});

describe('parseListing', () => {
  it('leaves out the item that fails, keeps and parses the others, and says which field of which item', () => {
    const rejected: RejectedItem[] = [];
    const items = parseListing(
      '/api/queues/%2F?disable_stats=true',
      queueSchema,
      [quorum('a', ['rabbit@a']), quorum('b', 7), { vhost: '/' }, quorum('c', ['rabbit@b'])],
      (r) => rejected.push(r),
    );
    expect(items?.map((q) => [q.name, q.online, q.messages_ready])).toEqual([
      ['a', ['rabbit@a'], 0],
      ['c', ['rabbit@b'], 0],
    ]);
    expect(rejected).toEqual([
      {
        part: 'queues',
        path: '/api/queues/%2F',
        index: 1,
        item: '//b',
        field: 'online',
        message: expect.stringMatching(/expected array/),
      },
      { part: 'queues', path: '/api/queues/%2F', index: 2, field: 'name', message: expect.any(String) },
    ]);
  });

  it('names a consumer by its queue, and reports nothing but the schema’s words about the value', () => {
    const rejected: RejectedItem[] = [];
    parseListing(
      '/api/consumers',
      z.looseObject({ queue: z.looseObject({ name: z.string(), vhost: z.string() }), prefetch_count: z.number() }),
      [{ queue: { name: 'q1', vhost: 'v' }, prefetch_count: 'hunter2-secret' }],
      (r) => rejected.push(r),
    );
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ part: 'consumers', item: 'v/q1', field: 'prefetch_count' });
    expect(JSON.stringify(rejected)).not.toContain('hunter2');
  });

  it('gives undefined for an answer that is no listing at all', () => {
    expect(parseListing('/api/queues', queueSchema, { error: 'x' }, () => undefined)).toBeUndefined();
  });

  it('names the listing by the path segment after /api/', () => {
    expect(listingPart('/api/queues')).toBe('queues');
    expect(listingPart('/api/connections?columns=name')).toBe('connections');
    expect(listingPart('/api/nodes/rabbit@a')).toBe('nodes');
    expect(listingPart('/other')).toBe('other');
  });
});

describe('rejectionReporter', () => {
  it('counts every rejected item by listing and logs each item and field once in its interval', async () => {
    const { registry, itemsRejected } = createMetrics();
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    let now = 0;
    const report = rejectionReporter({
      cluster: 'prod',
      counter: itemsRejected,
      logger,
      throttle: new LogThrottle(60_000, () => now),
    });
    const bad = [quorum('b', 7)];
    for (let sweep = 0; sweep < 3; sweep++) parseListing('/api/queues', queueSchema, bad, report);
    parseListing('/api/nodes', z.array(z.looseObject({ name: z.string() })).element, [{ name: 1 }], report);
    now = 61_000;
    parseListing('/api/queues', queueSchema, bad, report);

    const metrics = await registry.getSingleMetricAsString('warren_management_items_rejected_total');
    expect(metrics).toContain('warren_management_items_rejected_total{part="queues"} 4');
    expect(metrics).toContain('warren_management_items_rejected_total{part="nodes"} 1');
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.map((l) => [l.level, l.part, l.item, l.field, l.heldBack])).toEqual([
      ['warn', 'queues', '//b', 'online', undefined],
      ['warn', 'nodes', undefined, 'name', undefined],
      ['warn', 'queues', '//b', 'online', 2],
    ]);
    expect(logged[0]?.msg).toBe("left '//b' out of /api/queues: online Invalid input: expected array, received number");
    expect(logged[0]?.cluster).toBe('prod');
  });

  it('counts without a logger', async () => {
    const { registry, itemsRejected } = createMetrics();
    parseListing('/api/queues', queueSchema, [{}], rejectionReporter({ cluster: 'c', counter: itemsRejected }));
    expect(await registry.getSingleMetricAsString('warren_management_items_rejected_total')).toContain(
      '{part="queues"} 1',
    );
  });
});

describe('ManagementClient listings', () => {
  const queues = [quorum('a', ['rabbit@a']), quorum('b', 'rabbit@b'), quorum('c', ['rabbit@b'])];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const page = Number(url.searchParams.get('page') ?? 0);
    const body =
      url.pathname === '/api/overview'
        ? { node: 'rabbit@a', object_totals: { queues: 'three' } }
        : page
          ? { items: queues.slice(page - 1, page), page, page_count: queues.length }
          : queues;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const rejected: RejectedItem[] = [];
  let client: ManagementClient;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new ManagementClient(
      {
        name: 'fake',
        amqp: ['amqp://127.0.0.1:5672'],
        management: [`http://127.0.0.1:${port}`],
        managementUser: 'monitor',
        managementPassword: 'secret',
        vhost: '/',
      },
      { onRejected: (r) => rejected.push(r) },
    );
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('returns the items of an array answer that pass and reports the one that does not', async () => {
    rejected.length = 0;
    const listed = await client.get('/api/queues', z.array(queueSchema), { disable_stats: 'true' });
    expect(listed.map((q) => q.name)).toEqual(['a', 'c']);
    expect(rejected.map((r) => [r.part, r.item, r.field])).toEqual([['queues', '//b', 'online']]);
  });

  it('does the same page by page', async () => {
    rejected.length = 0;
    const names: string[] = [];
    await client.getPages('/api/queues', queueSchema, { page_size: 1 }, (items) => {
      for (const q of items) names.push(q.name);
    });
    expect(names).toEqual(['a', 'c']);
    expect(rejected.map((r) => [r.index, r.item])).toEqual([[0, '//b']]);
  });

  it('still refuses a wrong answer that is not a listing', async () => {
    await expect(client.overview()).rejects.toThrow(/object_totals\.queues/);
  });
});
