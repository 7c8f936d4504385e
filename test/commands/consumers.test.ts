import { describe, expect, it } from 'vitest';
import { type ConsumersArgs, consumersCommand, MAX_CONSUMERS_SHOWN } from '../../commands/consumers.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { ManagementApiError, UnknownClusterError } from '../../src/errors.js';
import { readFixture } from '../support/snapshot-fixtures.js';

type Consumer = { queue: { name: string; vhost: string }; channel_details: unknown };

/**
 * A cluster `prod` (vhost `/`) whose management API knows the queues in `queues` by `/api/queues/<vhost>/<name>`
 * path, answers 404 for any other queue, and lists `connections`. Asked paths are recorded.
 */
function fakeCluster(queues: Record<string, unknown>, connections: unknown[] = []) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'consumers-test-secret',
      vhost: '/',
    },
  ]);
  const asked: string[] = [];
  clusters.get('prod').management.get = async (path, schema) => {
    asked.push(path);
    if (path === '/api/connections') return schema.parse(connections);
    if (path === '/api/queues/%2F/denied') throw new ManagementApiError(path, 401, `HTTP 401 from ${path}: denied`);
    const queue = queues[path];
    if (queue === undefined) throw new ManagementApiError(path, 404, `HTTP 404 from ${path}: Not Found`);
    return schema.parse(queue);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, asked };
}

const items = (name: string) => (readFixture(name) as { items: unknown[] }).items;
/** The backlog scenario captured from a real 3.10 cluster: its consumers and connections. */
const consumers = readFixture('backlog-consumers.json') as Consumer[];
const connections = items('leaky-connections.json');

function queueDetail(name: string, vhost: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    vhost,
    type: 'classic',
    messages: 810,
    messages_ready: 800,
    messages_unacknowledged: 10,
    consumer_details: consumers.filter((c) => c.queue.name === name && c.queue.vhost === vhost),
    ...extra,
  };
}

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  consumersCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');

const args = (queue: string, overrides: Partial<ConsumersArgs> = {}): ConsumersArgs => ({
  queue,
  vhost: undefined,
  cluster: undefined,
  ...overrides,
});

describe('/rabbit consumers arguments', () => {
  it('takes one queue name, a vhost and a cluster', () => {
    expect(parse(['conductor']).data).toEqual(args('conductor'));
    expect(parse(['reply_x'], { vhost: 'openstack', cluster: 'prod' }).data).toEqual(
      args('reply_x', { vhost: 'openstack', cluster: 'prod' }),
    );
  });

  it('refuses no queue, two queues, a bare --vhost and unknown flags', () => {
    const one = 'consumers takes one queue name (quote it if it has spaces)';
    expect(messageOf([])).toBe(one);
    expect(messageOf(['a', 'b'])).toBe(one);
    expect(messageOf(['a'], { vhost: true })).toBe('--vhost needs a vhost name');
    expect(messageOf(['a'], { limit: '5' })).toBe('unknown flag --limit (consumers takes --vhost and --cluster)');
  });
});

describe('/rabbit consumers', () => {
  it("names each consumer's OpenStack process from its connection, with channel, prefetch and ack mode", async () => {
    const { context, asked } = fakeCluster({ '/api/queues/%2F/conductor': queueDetail('conductor', '/') }, connections);
    const reply = await consumersCommand.run(context, args('conductor'));
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text.split('\n')).toEqual([
      '*1 consumer* of `conductor` (vhost `/`) on `prod` · 800 ready, 10 unacked',
      '`nova-conductor` on `127.0.0.1`, pid 4243, user `warren` · channel `127.0.0.1:33692 -> 127.0.0.1:14702 (1)` · prefetch 10 · manual ack',
    ]);
    expect(asked).toEqual(['/api/queues/%2F/conductor', '/api/connections']);
  });

  it('encodes the vhost and queue name, and marks unlimited prefetch and auto-ack', async () => {
    const name = 'reply_storage1:cinder-volume:2';
    const path = `/api/queues/openstack/${encodeURIComponent(name)}`;
    const detail = queueDetail(name, 'openstack');
    const [first] = detail.consumer_details;
    const autoAck = { ...first, ack_required: false, active: false, activity_status: 'waiting' };
    const { context } = fakeCluster({ [path]: { ...detail, consumer_details: [first, autoAck] } }, connections);
    const reply = await consumersCommand.run(context, args(name, { vhost: 'openstack' }));
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe(`*2 consumers* of \`${name}\` (vhost \`openstack\`) on \`prod\` · 800 ready, 10 unacked`);
    expect(lines[1]).toBe(
      '`cinder-volume` on `127.0.0.1`, pid 13511, user `warren` · channel `127.0.0.1:42194 -> 127.0.0.1:14702 (1)` · *no prefetch limit* · manual ack',
    );
    expect(lines[2]).toContain('· *no prefetch limit* · *auto ack* · waiting (single active consumer)');
  });

  it("shows a 4.0 stream's readers as up, its size as retained, and its replicas", async () => {
    // A stream's stats answer on 4.0.5: its consumers say `active: false` while reading, and `messages_ready` is
    // what it retains.
    const reader = (port: number) => ({
      arguments: { 'x-stream-offset': 'last' },
      channel_details: {
        connection_name: `127.0.0.1:${port} -> 127.0.0.1:29996`,
        name: `127.0.0.1:${port} -> 127.0.0.1:29996 (1)`,
        node: 'rabbit3@n',
        number: 1,
        peer_host: '127.0.0.1',
        user: 'warren',
      },
      ack_required: true,
      active: false,
      activity_status: 'up',
      consumer_tag: '3',
      prefetch_count: 1,
      queue: { name: 'scheduler_fanout', vhost: '/' },
    });
    const stream = {
      name: 'scheduler_fanout',
      vhost: '/',
      type: 'stream',
      arguments: { 'x-max-age': '1800s', 'x-queue-type': 'stream' },
      consumers: 2,
      consumer_details: [reader(46520), reader(46498)],
      leader: 'rabbit3@n',
      members: ['rabbit1@n', 'rabbit2@n', 'rabbit3@n'],
      online: ['rabbit1@n', 'rabbit3@n'],
      messages: 3000,
      messages_ready: 3000,
      messages_unacknowledged: 0,
      operator_policy: null,
      policy: null,
      readers: { 'rabbit1@n': 0, 'rabbit2@n': 0, 'rabbit3@n': 4 },
      segments: 1,
    };
    const { context } = fakeCluster({ '/api/queues/%2F/scheduler_fanout': stream });
    const lines = (await consumersCommand.run(context, args('scheduler_fanout'))).text.split('\n');
    expect(lines[0]).toBe(
      '*2 consumers* of `scheduler_fanout` (vhost `/`) on `prod` · ' +
        '3,000 messages retained in 1 segment (not a backlog) · ' +
        '*under-replicated: 2/3 online, offline `rabbit2@n`*, leader `rabbit3@n`',
    );
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/channel `127\.0\.0\.1:46520 -> 127\.0\.0\.1:29996 \(1\)` · prefetch 1 · manual ack$/),
      expect.stringMatching(/· prefetch 1 · manual ack$/),
    ]);
  });

  it('falls back on what the channel knows when the connection is gone or its details are not in', async () => {
    const detail = queueDetail('conductor', '/', { consumers: 2 });
    const gone = { ...detail.consumer_details[0], channel_details: [] };
    const { context } = fakeCluster({ '/api/queues/%2F/conductor': { ...detail, consumer_details: [gone] } });
    const reply = await consumersCommand.run(context, args('conductor'));
    expect(reply.text.split('\n')).toEqual([
      '*2 consumers* of `conductor` (vhost `/`) on `prod` · 800 ready, 10 unacked (1 not in the statistics yet)',
      'a client · channel unknown · prefetch 10 · manual ack',
    ]);
  });

  it('says there are none without listing connections', async () => {
    const { context, asked } = fakeCluster({
      '/api/queues/%2F/notifications.info': queueDetail('notifications.info', '/'),
    });
    const reply = await consumersCommand.run(context, args('notifications.info'));
    expect(reply.text).toBe('*No consumers* of `notifications.info` (vhost `/`) on `prod` · 800 ready, 10 unacked');
    expect(asked).toEqual(['/api/queues/%2F/notifications.info']);
  });

  it('shows at most 100 consumers and says how many it left out', async () => {
    const [first] = queueDetail('conductor', '/').consumer_details;
    const many = Array.from({ length: 130 }, () => first);
    const { context } = fakeCluster(
      { '/api/queues/%2F/conductor': queueDetail('conductor', '/', { consumer_details: many }) },
      connections,
    );
    const reply = await consumersCommand.run(context, args('conductor'));
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe(
      '*130 consumers* of `conductor` (vhost `/`) on `prod` · 800 ready, 10 unacked (30 more left out)',
    );
    expect(lines).toHaveLength(1 + MAX_CONSUMERS_SHOWN);
  });

  it('answers an unknown queue by naming it and its vhost', async () => {
    const { context } = fakeCluster({});
    const reply = await consumersCommand.run(context, args('nope', { vhost: 'openstack' }));
    expect(reply).toEqual({
      visibility: 'ephemeral',
      text:
        'No queue `nope` in vhost `openstack` of `prod`. ' +
        '`/rabbit queues PATTERN` finds queues by a glob on their name, e.g. `*fanout*`.',
    });
  });

  it('lets other API errors and unknown clusters through to the router', async () => {
    const { context } = fakeCluster({});
    await expect(consumersCommand.run(context, args('denied'))).rejects.toThrow('HTTP 401');
    await expect(consumersCommand.run(context, args('conductor', { cluster: 'staging' }))).rejects.toThrow(
      UnknownClusterError,
    );
  });
});
