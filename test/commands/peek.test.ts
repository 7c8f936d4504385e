import { describe, expect, it } from 'vitest';
import { DEFAULT_PEEK, MAX_PEEK, type PeekArgs, peekCommand } from '../../commands/peek.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { ManagementApiError } from '../../src/errors.js';
import { osloMessage } from '../support/oslo-publisher.js';
import { readFixture } from '../support/snapshot-fixtures.js';

const SECRET = 'peek-test-s3cr3t-value';

type Queue = Record<string, unknown>;
interface Fake {
  queue?: Queue;
  messages?: unknown[];
  nodes?: unknown;
  remediation?: boolean;
}

const cluster = (name: string, remediation: boolean): ClusterConfig => ({
  name,
  amqp: ['amqp://127.0.0.1:9'],
  management: ['http://127.0.0.1:9'],
  managementUser: 'monitor',
  managementPassword: 'peek-test-password',
  vhost: '/',
  ...(remediation ? { remediation: { user: 'warren-fix', password: 'peek-test-fix-password' } } : {}),
});

/** A cluster `prod` whose queue, nodes and get answers are given; what was posted to /get is recorded. */
function fakeCluster(fake: Fake, more: ClusterConfig[] = []) {
  const clusters = new ClusterDirectory([cluster('prod', fake.remediation ?? true), ...more]);
  const posted: { path: string; data: unknown }[] = [];
  const management = clusters.get('prod').management;
  management.get = async (path, schema) => {
    if (path === '/api/nodes') return schema.parse(fake.nodes ?? readFixture('healthy-nodes.json'));
    if (!fake.queue) throw new ManagementApiError(path, 404, `HTTP 404 from ${path}: Object Not Found`);
    return schema.parse(fake.queue);
  };
  const readAsRemediation = management.readAsRemediation.bind(management);
  management.readAsRemediation = async (method, path, schema, data) => {
    if (!fake.remediation && fake.remediation !== undefined) return readAsRemediation(method, path, schema, data);
    posted.push({ path, data });
    return schema.parse(fake.messages ?? []);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, posted };
}

const classic = (over: Queue = {}): Queue => ({
  name: 'notifications.error',
  vhost: '/',
  type: 'classic',
  messages: 3,
  messages_ready: 3,
  messages_unacknowledged: 0,
  consumers: 0,
  arguments: {},
  ...over,
});

/** A message as `POST …/get` answers it (3.10 and 4.0 alike). */
const got = (body: Buffer | string, over: Record<string, unknown> = {}) => {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return {
    payload_bytes: buffer.length,
    redelivered: false,
    exchange: 'nova',
    routing_key: 'notifications.error',
    message_count: 2,
    properties: { content_type: 'application/json', headers: {} },
    payload: buffer.toString('utf8'),
    payload_encoding: 'string',
    ...over,
  };
};

const args = (queue: string, over: Partial<PeekArgs> = {}): PeekArgs => ({
  queue,
  count: DEFAULT_PEEK,
  vhost: undefined,
  cluster: undefined,
  ...over,
});
const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  peekCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');

describe('/rabbit peek arguments', () => {
  it(`peeks ${DEFAULT_PEEK} messages unless told, at most ${MAX_PEEK}`, () => {
    expect(peekCommand.access).toBe('operate');
    expect(parse(['q']).data).toEqual(args('q'));
    expect(parse(['q', '20'], { vhost: '/nova', cluster: 'prod' }).data).toEqual(
      args('q', { count: 20, vhost: '/nova', cluster: 'prod' }),
    );
  });

  it('refuses what it does not understand', () => {
    expect(messageOf([])).toBe('peek takes a queue name and optionally how many messages');
    expect(messageOf(['q', '21'])).toBe('N is a whole number from 1 to 20');
    expect(messageOf(['q', '0'])).toBe('N is a whole number from 1 to 20');
    expect(messageOf(['q', 'ten'])).toBe('N is a whole number from 1 to 20');
    expect(messageOf(['q', '1', 'x'])).toBe(
      'peek takes a queue name and optionally how many messages (quote a name with spaces)',
    );
    expect(messageOf(['q'], { ack: 'true' })).toBe('unknown flag --ack (peek takes --vhost and --cluster)');
  });
});

describe('/rabbit peek', () => {
  it('decodes an oslo notification, masks its secrets and requeues what it took', async () => {
    const notification = osloMessage('nova-versioned-instance.create.error.v2.json', (m) => {
      m._context_auth_token = SECRET;
      m.payload = { admin_password: SECRET, ...(m.payload as object) };
    });
    const { context, posted } = fakeCluster({ queue: classic(), messages: [got(notification.body)] });
    const reply = await peekCommand.run(context, args('notifications.error', { count: 3 }));
    expect(posted).toEqual([
      {
        path: '/api/queues/%2F/notifications.error/get',
        data: { count: 3, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 65_536 },
      },
    ]);
    expect(reply.visibility).toBe('ephemeral');
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe(
      '*Peek at `notifications.error` (vhost `/`) on `prod`* · classic · the first 1 of 3 ready · requeued in place, now marked redelivered',
    );
    expect(lines[1]).toMatch(/^\*1\.\* from `nova` · key `notifications\.error` · [\d.]+ KiB$/);
    expect(lines[2]).toMatch(
      /^notification `instance\.create\.error` · ERROR · from `nova-compute:cmp-01\.dc1\.example\.net` · \d{4}-\d\d-\d\d [\d:.]+ UTC · oslo v2 envelope$/,
    );
    expect(lines[3]).toMatch(/^```\{"admin_password":"\*\*\*","nova_object\.name":"InstanceCreatePayload",/);
    expect(reply.text).not.toContain(SECRET);
  });

  it("shows an RPC call's method and arguments, masked, and marks a message delivered before", async () => {
    const call = {
      'oslo.version': '2.0',
      'oslo.message': JSON.stringify({
        method: 'build_and_run_instance',
        args: { instance: { uuid: 'c0ffee' }, admin_password: SECRET, nested: { db: { connection_password: SECRET } } },
        version: '6.0',
        _msg_id: 'a1b2',
        _reply_q: 'reply_4f2a',
        _unique_id: 'u1',
        _context_request_id: 'req-42',
        _context_auth_token: SECRET,
      }),
    };
    const { context } = fakeCluster({
      queue: classic({ name: 'compute.cmp-01' }),
      messages: [got(JSON.stringify(call), { redelivered: true, exchange: 'nova', routing_key: 'compute.cmp-01' })],
    });
    const lines = (await peekCommand.run(context, args('compute.cmp-01'))).text.split('\n');
    expect(lines[1]).toMatch(/^\*1\.\* from `nova` · key `compute\.cmp-01` · \d+ B · redelivered before$/);
    expect(lines[2]).toBe('RPC call `build_and_run_instance` · request `req-42` · oslo v2 envelope');
    expect(lines[3]).toBe(
      '```{"instance":{"uuid":"c0ffee"},"admin_password":"***","nested":{"db":{"connection_password":"***"}}}```',
    );
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('elides what is nested too deep to show rather than letting it past the scrubber', async () => {
    let deep: Record<string, unknown> = { password: SECRET };
    for (let i = 0; i < 12; i++) deep = { level: deep };
    const { context } = fakeCluster({ queue: classic(), messages: [got(JSON.stringify({ deep }))] });
    const text = (await peekCommand.run(context, args('notifications.error'))).text;
    expect(text).toContain('{…}');
    expect(text).not.toContain(SECRET);
  });

  it('describes bodies it cannot scrub key by key instead of showing them', async () => {
    const { context } = fakeCluster({
      queue: classic(),
      messages: [
        got(`password=${SECRET}`),
        got(Buffer.from([0xff, 0x00]).toString('base64'), { payload_bytes: 2, payload_encoding: 'base64' }),
        got('{"a":1', { payload_bytes: 200_000 }),
      ],
    });
    const text = (await peekCommand.run(context, args('notifications.error'))).text;
    expect(text.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^\*1\.\* /),
      '_not an oslo message (not JSON): not shown_',
      expect.stringMatching(/^\*2\.\* /),
      '_binary body, 2 B: not shown_',
      expect.stringMatching(/^\*3\.\* /),
      '_195 KiB body, over the 64 KiB a peek reads: not shown_',
    ]);
    expect(text).not.toContain(SECRET);
  });

  it('refuses a stream without taking anything, with the reason', async () => {
    const { context, posted } = fakeCluster({ queue: classic({ name: 'compute_fanout', type: 'stream' }) });
    const reply = await peekCommand.run(context, args('compute_fanout'));
    expect(reply).toEqual({
      visibility: 'ephemeral',
      text:
        '`compute_fanout` is a stream: streams cannot be read with basic.get, which is what a peek uses. ' +
        'Read it with a stream consumer and an `x-stream-offset` instead.',
    });
    expect(posted).toEqual([]);
  });

  it("counts each peek against a quorum queue's delivery limit, and refuses a queue whose limit is tiny", async () => {
    const nodes = readFixture('kolla-nodes.json', '4.0');
    const quorum = classic({ name: 'compute', type: 'quorum' });
    const worn = got('{"method":"ping","args":{}}', {
      redelivered: true,
      properties: { headers: { 'x-delivery-count': 18 } },
    });
    const { context } = fakeCluster({ queue: quorum, nodes, messages: [got('{"method":"ping","args":{}}'), worn] });
    const lines = (await peekCommand.run(context, args('compute'))).text.split('\n');
    // 4.0's default limit, since the queue sets none.
    expect(lines[0]).toContain(
      '· quorum · the first 2 of 3 ready · requeued in place, now marked redelivered · ' +
        'each peek counts towards the delivery limit of 20',
    );
    expect(lines[1]).toMatch(/ · delivery count 1 of 20$/);
    expect(lines[4]).toMatch(
      / · redelivered before · \*delivery count 19 of 20: 1 more return\(s\) before it is dropped or dead-lettered\*$/,
    );
    // No default before 4.0: a 3.10 quorum queue without a limit is not counted.
    const old = fakeCluster({ queue: quorum, messages: [got('{}')] });
    expect((await peekCommand.run(old.context, args('compute'))).text).not.toContain('delivery');

    const tiny = fakeCluster({
      queue: { ...quorum, arguments: { 'x-delivery-limit': 3 } },
      nodes,
      messages: [got('{}')],
    });
    const refused = await peekCommand.run(tiny.context, args('compute'));
    expect(refused.text).toBe(
      'Not peeking `compute`: it is a quorum queue with a delivery limit of 3, and every peek counts as one delivery ' +
        'attempt, so a few peeks would drop or dead-letter its messages.',
    );
    expect(tiny.posted).toEqual([]);
  });

  it('names a missing queue, an empty one, a cluster without remediation credentials, and asks for --cluster', async () => {
    const missing = fakeCluster({});
    expect((await peekCommand.run(missing.context, args('nope', { vhost: '/nova' }))).text).toBe(
      'No queue `nope` in vhost `/nova` of `prod`.',
    );
    const empty = fakeCluster({ queue: classic({ messages_ready: 0, messages_unacknowledged: 4 }), messages: [] });
    expect((await peekCommand.run(empty.context, args('notifications.error'))).text).toBe(
      '*Peek at `notifications.error` (vhost `/`) on `prod`*: no ready message; 4 unacked held by consumers cannot be peeked.',
    );
    const readOnly = fakeCluster({ queue: classic(), remediation: false });
    expect((await peekCommand.run(readOnly.context, args('notifications.error'))).text).toBe(
      'Cannot peek on `prod`: taking messages needs read permission on the queue, which warren uses only with the ' +
        'remediation user (clusters[].remediationUser), and none is configured.',
    );
    const two = fakeCluster({ queue: classic() }, [cluster('staging', true)]);
    expect((await peekCommand.run(two.context, args('q'))).text).toBe(
      'Name the cluster to peek on with --cluster (one of `prod`, `staging`).',
    );
  });
});
