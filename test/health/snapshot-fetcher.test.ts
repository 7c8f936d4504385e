/**
 * The snapshot fetcher's requests and the management client's reading of Erlang terms (`application/bert`), without
 * a broker: a listing captured from RabbitMQ 3.10.8 in both formats, and a fake management API that answers BERT,
 * or JSON only like a broker without BERT would, so that both give the same snapshot.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSnapshot } from '../../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { decodeErlangTerm } from '../../src/management/erlang-term.js';
import { ManagementClient } from '../../src/management/management-client.js';

// GET /api/queues?disable_stats=true&enable_queue_totals=true&page=1&page_size=10&name=warren-fixture on a 3-node
// 3.10.8 cluster, with Accept: application/bert: a classic queue with table, float and big-integer arguments, an
// exclusive one, a mirrored one, a quorum one (which 3.10 lists with `exclusive: ''`, JSON null) and a UTF-8 name.
const CAPTURED_BERT = [
  'g2wAAAAHaAJkAA5maWx0ZXJlZF9jb3VudGEFaAJkAAppdGVtX2NvdW50YQVoAmQABWl0ZW1zbAAAAAVsAAAADGgCZAAJYXJndW1lbnRzdAAA',
  'AARtAAAACXgtZXhwaXJlc2IAG3dAbQAAAAx4LXdhcnJlbi1iaWduBQAA8gUqAW0AAAAOeC13YXJyZW4tcmF0aW9GP+AAAAAAAABtAAAADngt',
  'd2FycmVuLXRhYmxldAAAAANtAAAABWRlcHRoYQNtAAAABWxhYmVsbQAAAAXDvG7Dr20AAAACb25kAAR0cnVlaAJkAAthdXRvX2RlbGV0ZWQA',
  'BWZhbHNlaAJkAAdkdXJhYmxlZAAFZmFsc2VoAmQACWV4Y2x1c2l2ZWQABWZhbHNlaAJkAAhtZXNzYWdlc2EBaAJkAA5tZXNzYWdlc19yZWFk',
  'eWEBaAJkABdtZXNzYWdlc191bmFja25vd2xlZGdlZGEAaAJkAARuYW1lbQAAABZ3YXJyZW4tZml4dHVyZS1jbGFzc2ljaAJkAARub2RlZAAY',
  'cmFiYml0Mi1iMDZkMzZAbG9jYWxob3N0aAJkAAVzdGF0ZWQAB3J1bm5pbmdoAmQABHR5cGVkAAdjbGFzc2ljaAJkAAV2aG9zdG0AAAABL2ps',
  'AAAADGgCZAAJYXJndW1lbnRzdAAAAABoAmQAC2F1dG9fZGVsZXRlZAAFZmFsc2VoAmQAB2R1cmFibGVkAAVmYWxzZWgCZAAJZXhjbHVzaXZl',
  'ZAAEdHJ1ZWgCZAAIbWVzc2FnZXNhAGgCZAAObWVzc2FnZXNfcmVhZHlhAGgCZAAXbWVzc2FnZXNfdW5hY2tub3dsZWRnZWRhAGgCZAAEbmFt',
  'ZW0AAAAYd2FycmVuLWZpeHR1cmUtZXhjbHVzaXZlaAJkAARub2RlZAAYcmFiYml0Mi1iMDZkMzZAbG9jYWxob3N0aAJkAAVzdGF0ZWQAB3J1',
  'bm5pbmdoAmQABHR5cGVkAAdjbGFzc2ljaAJkAAV2aG9zdG0AAAABL2psAAAAD2gCZAAJYXJndW1lbnRzdAAAAABoAmQAC2F1dG9fZGVsZXRl',
  'ZAAFZmFsc2VoAmQAB2R1cmFibGVkAAR0cnVlaAJkAAlleGNsdXNpdmVkAAVmYWxzZWgCZAAIbWVzc2FnZXNhAWgCZAAObWVzc2FnZXNfcmVh',
  'ZHlhAWgCZAAXbWVzc2FnZXNfdW5hY2tub3dsZWRnZWRhAGgCZAAEbmFtZW0AAAAXd2FycmVuLWZpeHR1cmUtbWlycm9yZWRoAmQABG5vZGVk',
  'ABhyYWJiaXQyLWIwNmQzNkBsb2NhbGhvc3RoAmQABnBvbGljeW0AAAARd2FycmVuLWZpeHR1cmUtaGFoAmQAC3NsYXZlX25vZGVzbAAAAAJk',
  'ABhyYWJiaXQzLWIwNmQzNkBsb2NhbGhvc3RkABhyYWJiaXQxLWIwNmQzNkBsb2NhbGhvc3RqaAJkAAVzdGF0ZWQAB3J1bm5pbmdoAmQAGHN5',
  'bmNocm9uaXNlZF9zbGF2ZV9ub2Rlc2wAAAACZAAYcmFiYml0My1iMDZkMzZAbG9jYWxob3N0ZAAYcmFiYml0MS1iMDZkMzZAbG9jYWxob3N0',
  'amgCZAAEdHlwZWQAB2NsYXNzaWNoAmQABXZob3N0bQAAAAEvamwAAAAOaAJkAAlhcmd1bWVudHN0AAAAAW0AAAAMeC1xdWV1ZS10eXBlbQAA',
  'AAZxdW9ydW1oAmQAC2F1dG9fZGVsZXRlZAAFZmFsc2VoAmQAB2R1cmFibGVkAAR0cnVlaAJkAAlleGNsdXNpdmVkAABoAmQABmxlYWRlcmQA',
  'GHJhYmJpdDItYjA2ZDM2QGxvY2FsaG9zdGgCZAAHbWVtYmVyc2wAAAADZAAYcmFiYml0Mi1iMDZkMzZAbG9jYWxob3N0ZAAYcmFiYml0My1i',
  'MDZkMzZAbG9jYWxob3N0ZAAYcmFiYml0MS1iMDZkMzZAbG9jYWxob3N0amgCZAAIbWVzc2FnZXNhAWgCZAAObWVzc2FnZXNfcmVhZHlhAWgC',
  'ZAAXbWVzc2FnZXNfdW5hY2tub3dsZWRnZWRhAGgCZAAEbmFtZW0AAAAVd2FycmVuLWZpeHR1cmUtcXVvcnVtaAJkAAZvbmxpbmVsAAAAA2QA',
  'GHJhYmJpdDItYjA2ZDM2QGxvY2FsaG9zdGQAGHJhYmJpdDMtYjA2ZDM2QGxvY2FsaG9zdGQAGHJhYmJpdDEtYjA2ZDM2QGxvY2FsaG9zdGpo',
  'AmQABXN0YXRlZAAHcnVubmluZ2gCZAAEdHlwZWQABnF1b3J1bWgCZAAFdmhvc3RtAAAAAS9qbAAAAAxoAmQACWFyZ3VtZW50c3QAAAAAaAJk',
  'AAthdXRvX2RlbGV0ZWQABWZhbHNlaAJkAAdkdXJhYmxlZAAFZmFsc2VoAmQACWV4Y2x1c2l2ZWQABWZhbHNlaAJkAAhtZXNzYWdlc2EBaAJk',
  'AA5tZXNzYWdlc19yZWFkeWEAaAJkABdtZXNzYWdlc191bmFja25vd2xlZGdlZGEBaAJkAARuYW1lbQAAAB53YXJyZW4tZml4dHVyZS3DvG7D',
  'r2PDuGTDqSDinJNoAmQABG5vZGVkABhyYWJiaXQyLWIwNmQzNkBsb2NhbGhvc3RoAmQABXN0YXRlZAAHcnVubmluZ2gCZAAEdHlwZWQAB2Ns',
  'YXNzaWNoAmQABXZob3N0bQAAAAEvampoAmQABHBhZ2VhAWgCZAAKcGFnZV9jb3VudGEBaAJkAAlwYWdlX3NpemVhCmgCZAALdG90YWxfY291',
  'bnRiAAB092o=',
].join('');

// The same request with Accept: application/json, as JSON.parse reads it.
const CAPTURED_JSON = {
  filtered_count: 5,
  item_count: 5,
  items: [
    {
      arguments: {
        'x-expires': 1800000,
        'x-warren-big': 5000000000,
        'x-warren-ratio': 0.5,
        'x-warren-table': {
          depth: 3,
          label: 'ünï',
          on: true,
        },
      },
      auto_delete: false,
      durable: false,
      exclusive: false,
      messages: 1,
      messages_ready: 1,
      messages_unacknowledged: 0,
      name: 'warren-fixture-classic',
      node: 'rabbit2-b06d36@localhost',
      state: 'running',
      type: 'classic',
      vhost: '/',
    },
    {
      arguments: {},
      auto_delete: false,
      durable: false,
      exclusive: true,
      messages: 0,
      messages_ready: 0,
      messages_unacknowledged: 0,
      name: 'warren-fixture-exclusive',
      node: 'rabbit2-b06d36@localhost',
      state: 'running',
      type: 'classic',
      vhost: '/',
    },
    {
      arguments: {},
      auto_delete: false,
      durable: true,
      exclusive: false,
      messages: 1,
      messages_ready: 1,
      messages_unacknowledged: 0,
      name: 'warren-fixture-mirrored',
      node: 'rabbit2-b06d36@localhost',
      policy: 'warren-fixture-ha',
      slave_nodes: ['rabbit3-b06d36@localhost', 'rabbit1-b06d36@localhost'],
      state: 'running',
      synchronised_slave_nodes: ['rabbit3-b06d36@localhost', 'rabbit1-b06d36@localhost'],
      type: 'classic',
      vhost: '/',
    },
    {
      arguments: {
        'x-queue-type': 'quorum',
      },
      auto_delete: false,
      durable: true,
      exclusive: null,
      leader: 'rabbit2-b06d36@localhost',
      members: ['rabbit2-b06d36@localhost', 'rabbit3-b06d36@localhost', 'rabbit1-b06d36@localhost'],
      messages: 1,
      messages_ready: 1,
      messages_unacknowledged: 0,
      name: 'warren-fixture-quorum',
      online: ['rabbit2-b06d36@localhost', 'rabbit3-b06d36@localhost', 'rabbit1-b06d36@localhost'],
      state: 'running',
      type: 'quorum',
      vhost: '/',
    },
    {
      arguments: {},
      auto_delete: false,
      durable: false,
      exclusive: false,
      messages: 1,
      messages_ready: 0,
      messages_unacknowledged: 1,
      name: 'warren-fixture-ünïcødé ✓',
      node: 'rabbit2-b06d36@localhost',
      state: 'running',
      type: 'classic',
      vhost: '/',
    },
  ],
  page: 1,
  page_count: 1,
  page_size: 10,
  total_count: 29943,
};

/** Erlang external term format, written the way the broker's `term_to_binary` writes a listing. */
function term(value: unknown): Buffer {
  return Buffer.concat([Buffer.from([131]), encode(value)]);
}

function atom(name: string): Buffer {
  const bytes = Buffer.from(name, 'latin1');
  return Buffer.concat([Buffer.from([100, bytes.length >> 8, bytes.length & 255]), bytes]);
}

function list(items: Buffer[]): Buffer {
  if (items.length === 0) return Buffer.from([106]);
  const head = Buffer.alloc(5);
  head.writeUInt8(108, 0);
  head.writeUInt32BE(items.length, 1);
  return Buffer.concat([head, ...items, Buffer.from([106])]);
}

/** Objects are proplists with atom keys, null is the atom '' (the broker's "no value"), true and false atoms. */
function encode(value: unknown): Buffer {
  if (value === null) return atom('');
  if (typeof value === 'boolean') return atom(String(value));
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(5);
    head.writeUInt8(109, 0);
    head.writeUInt32BE(bytes.length, 1);
    return Buffer.concat([head, bytes]);
  }
  if (typeof value === 'number') {
    const out = Buffer.alloc(9);
    if (Number.isInteger(value) && value >= 0 && value < 256) return Buffer.from([97, value]);
    if (Number.isInteger(value) && Math.abs(value) < 2 ** 31) {
      out.writeUInt8(98, 0);
      out.writeInt32BE(value, 1);
      return out.subarray(0, 5);
    }
    out.writeUInt8(70, 0);
    out.writeDoubleBE(value, 1);
    return out;
  }
  if (Array.isArray(value)) return list(value.map(encode));
  const members = Object.entries(value as Record<string, unknown>);
  if (members.length === 0) return list([Buffer.from([104, 0])]);
  return list(members.map(([k, v]) => Buffer.concat([Buffer.from([104, 2]), atom(k), encode(v)])));
}

describe('decodeErlangTerm', () => {
  it('reads a BERT listing from RabbitMQ 3.10 into what its JSON twin parses to', () => {
    expect(decodeErlangTerm(Buffer.from(CAPTURED_BERT, 'base64'))).toEqual(CAPTURED_JSON);
  });

  it('reads a compressed term', () => {
    const plain = Buffer.from(CAPTURED_BERT, 'base64');
    const size = Buffer.alloc(4);
    size.writeUInt32BE(plain.length - 1);
    const compressed = Buffer.concat([Buffer.from([131, 80]), size, deflateSync(plain.subarray(1))]);
    expect(decodeErlangTerm(compressed)).toEqual(CAPTURED_JSON);
  });

  it('maps terms as the broker’s JSON encoding does', () => {
    const pairs = (members: [Buffer, Buffer][]) =>
      list(members.map(([k, v]) => Buffer.concat([Buffer.from([104, 2]), k, v])));
    const body = Buffer.concat([
      Buffer.from([131]),
      pairs([
        [atom('none'), atom('')],
        [atom('text'), encode('é')],
        [atom('empty_list'), list([])],
        [atom('empty_object'), list([Buffer.from([104, 0])])],
        [atom('atoms'), list([atom('rabbit@a'), atom(''), atom('null'), atom('true')])],
        [atom('chars'), Buffer.from([107, 0, 2, 104, 105])],
        [atom('negative'), encode(-7)],
        [atom('big'), Buffer.from([110, 5, 1, 0, 0xf2, 0x05, 0x2a, 0x01])],
        [atom('map'), Buffer.from([116, 0, 0, 0, 1, ...atom('k'), ...atom('')])],
      ]),
    ]);
    expect(decodeErlangTerm(body)).toEqual({
      none: null,
      text: 'é',
      empty_list: [],
      empty_object: {},
      atoms: ['rabbit@a', '', null, true],
      chars: [104, 105],
      negative: -7,
      big: -5_000_000_000,
      map: { k: '' },
    });
  });

  it('refuses what JSON cannot hold and what is not one whole term', () => {
    const pid = Buffer.from([131, 88, ...atom('rabbit@a'), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => decodeErlangTerm(pid)).toThrow(/unsupported Erlang term/);
    expect(() => decodeErlangTerm(Buffer.from([131, 104, 2, 97, 1, 97, 2]))).toThrow(/tuple/);
    expect(() => decodeErlangTerm(Buffer.concat([term([1, 2]), Buffer.from([97])]))).toThrow(/after the Erlang term/);
    expect(() => decodeErlangTerm(term('a long string').subarray(0, 8))).toThrow(/truncated/);
    expect(() => decodeErlangTerm(Buffer.from('[]'))).toThrow(/not an Erlang external term/);
  });
});

interface Seen {
  path: string;
  query: URLSearchParams;
  accept: string;
}

/**
 * A one-node management API with two vhosts, listed out of order as an unsorted listing comes. With `bert`, it
 * answers `application/bert` to whoever accepts it; without, JSON to everyone, like a broker that lacks BERT.
 */
function fakeManagement(bert: boolean): { server: Server; seen: Seen[] } {
  const seen: Seen[] = [];
  const queues = [
    { name: 'reply_b', vhost: '/', node: 'rabbit@a', type: 'classic', policy: null, exclusive: false, arguments: {} },
    { name: 'compute.h1', vhost: 'nova', node: 'rabbit@a', type: 'classic', policy: null, arguments: {} },
    { name: 'q', vhost: '/', type: 'quorum', exclusive: null, members: ['rabbit@a'], online: [], leader: null },
    { name: 'compute.h0', vhost: 'nova', node: 'rabbit@a', type: 'classic', policy: 'ttl', arguments: {} },
  ].map((q, i) => ({ ...q, messages: i * 3, messages_ready: i * 2, messages_unacknowledged: i }));
  const consumers = [
    { queue: { name: 'compute.h0', vhost: 'nova' } },
    { queue: { name: 'q', vhost: '/' } },
    { queue: { name: 'compute.h0', vhost: 'nova' } },
  ];
  const answers: Record<string, () => unknown> = {
    '/api/overview': () => ({ node: 'rabbit@a' }),
    '/api/nodes': () => [{ name: 'rabbit@a', running: true, partitions: [] }],
    '/api/policies': () => [],
    '/api/feature-flags': () => [{ name: 'khepri_db', state: 'disabled', stability: 'experimental' }],
    '/api/connections': () => [
      { name: 'c1', node: 'rabbit@a', channels: 1, client_properties: { product: 'py-amqp' } },
    ],
    '/api/consumers': () => consumers,
    '/api/queues': () => queues,
  };
  /** A page of a listing in the broker's default order (vhost, then name), as its `page` parameters ask. */
  const paged = (items: unknown, query: URLSearchParams): unknown => {
    const page = Number(query.get('page') ?? 0);
    if (!page || !Array.isArray(items)) return items;
    const size = Number(query.get('page_size'));
    const key = (item: { vhost?: string; name?: string }) => `${item.vhost ?? ''}/${item.name ?? ''}`;
    const sorted = [...items].sort((a, b) => key(a).localeCompare(key(b)));
    return {
      items: sorted.slice((page - 1) * size, page * size),
      page,
      page_count: Math.ceil(sorted.length / size),
      total_count: sorted.length,
    };
  };
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const accept = req.headers.accept ?? '';
    seen.push({ path: url.pathname, query: url.searchParams, accept });
    if (url.pathname.startsWith('/api/health/checks/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const answer = paged(answers[url.pathname]?.(), url.searchParams);
    if (answer === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Object Not Found"}');
    } else if (bert && accept.includes('application/bert')) {
      res.writeHead(200, { 'content-type': 'application/bert' }).end(term(answer));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    }
  });
  return { server, seen };
}

/** The two fake brokers listen on different ports; everything else in their snapshots must be the same. */
const withoutUrls = (snapshot: ClusterSnapshot) => ({
  ...snapshot,
  endpoints: snapshot.endpoints.map(({ url: _, ...rest }) => rest),
});

describe('SnapshotFetcher requests', () => {
  const brokers = { bert: fakeManagement(true), json: fakeManagement(false) };
  const fetcher = (fake: { server: Server }, pageSize = 0) => {
    const { port } = fake.server.address() as AddressInfo;
    const management = new ManagementClient({
      name: 'fake',
      amqp: ['amqp://127.0.0.1:5672'],
      management: [`http://127.0.0.1:${port}`],
      managementUser: 'monitor',
      managementPassword: 'secret',
      vhost: '/',
    });
    return new SnapshotFetcher('fake', management, { pageSize, listingTimeoutMs: 30_000 });
  };

  beforeAll(async () => {
    for (const { server } of Object.values(brokers)) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
  });

  afterAll(async () => {
    for (const { server } of Object.values(brokers)) await new Promise((resolve) => server.close(resolve));
  });

  it('asks the big listings as Erlang terms, unsorted, and the queue listing without columns', async () => {
    const { seen } = brokers.bert;
    seen.length = 0;
    const snapshot = await fetcher(brokers.bert).fetch(() => 0);
    expect(snapshot.errors).toEqual({});
    expect(snapshot.featureFlags).toEqual([{ name: 'khepri_db', state: 'disabled', stability: 'experimental' }]);
    const asked = (path: string) => seen.find((s) => s.path === path) as Seen;
    for (const path of ['/api/queues', '/api/consumers', '/api/connections']) {
      expect(asked(path).accept).toMatch(/^application\/bert,/);
    }
    expect(Object.fromEntries(asked('/api/queues').query)).toEqual({
      disable_stats: 'true',
      enable_queue_totals: 'true',
      sort: '',
    });
    expect(asked('/api/consumers').query.get('sort')).toBe('');
    expect(asked('/api/connections').query.has('sort')).toBe(false);
    expect(asked('/api/nodes').accept).toBe('application/json');
  });

  it('lists the queues in the broker’s order with their consumer counts', async () => {
    const snapshot = await fetcher(brokers.bert).fetch(() => 0);
    expect(snapshot.queues?.map((q) => [q.vhost, q.name, q.consumers, q.messages])).toEqual([
      ['/', 'q', 1, 6],
      ['/', 'reply_b', 0, 0],
      ['nova', 'compute.h0', 2, 9],
      ['nova', 'compute.h1', 0, 3],
    ]);
    const quorum = snapshot.queues?.find((q) => q.name === 'q');
    expect(quorum).toMatchObject({ exclusive: null, leader: null, members: ['rabbit@a'], online: [] });
    expect(snapshot.connections?.[0]?.client_properties).toEqual({ product: 'py-amqp' });
  });

  it('gives the same snapshot from a broker that answers JSON only', async () => {
    const fromBert = await fetcher(brokers.bert).fetch(() => 0);
    const fromJson = await fetcher(brokers.json).fetch(() => 0);
    expect(withoutUrls(fromJson)).toEqual(withoutUrls(fromBert));
  });

  it('keeps the broker’s sort and the columns when it asks page by page', async () => {
    const { seen } = brokers.bert;
    seen.length = 0;
    const paged = await fetcher(brokers.bert, 3).fetch(() => 0);
    const pages = seen.filter((s) => s.path === '/api/queues');
    expect(pages.map((p) => p.query.get('page'))).toEqual(['1', '2']);
    for (const page of pages) {
      expect(page.query.has('sort')).toBe(false);
      expect(page.query.get('columns')).toContain('messages_unacknowledged');
      expect(page.accept).toMatch(/^application\/bert,/);
    }
    expect(withoutUrls(paged)).toEqual(withoutUrls(await fetcher(brokers.json).fetch(() => 0)));
  });
});
