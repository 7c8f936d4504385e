import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { depthText, type ListingPart, listingReply, type QueuesArgs, queuesCommand } from '../../commands/queues.js';
import type { ChatReply } from '../../src/chat/chat-message.js';
import { MAX_BLOCKS, MAX_SECTION_TEXT, MAX_TEXT } from '../../src/chat/slack-limits.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { ManagementApiError, UnknownClusterError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { readFixture } from '../support/snapshot-fixtures.js';

type Params = Record<string, string | number> | undefined;

/** A cluster `prod` whose management API answers from `answer` instead of the network; asked paths are recorded. */
function fakeCluster(answer: (path: string) => unknown) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'queues-test-secret',
      vhost: '/',
    },
  ]);
  const asked: { path: string; params: Params }[] = [];
  clusters.get('prod').management.get = async (path, schema, params, options) => {
    asked.push({ path, params });
    // a stream's stats are asked with their repeated keys told (none here)
    return schema.parse(options?.repeatedKeys ? { value: answer(path), repeated: [] } : answer(path));
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { clusters, context, asked };
}

const items = (name: string) => (readFixture(name) as { items: unknown[] }).items;

/** The backlog scenario captured from a real 3.10 cluster: 19 queues in two vhosts, 7 consumers. */
const backlog = fakeCluster((path) =>
  path === '/api/consumers' ? readFixture('backlog-consumers.json') : items('backlog-queues.json'),
);

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  queuesCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');

const args = (overrides: Partial<QueuesArgs> = {}): QueuesArgs => ({
  sort: 'messages',
  limit: 20,
  pattern: undefined,
  vhost: undefined,
  cluster: undefined,
  ...overrides,
});

const listedNames = (reply: ChatReply) =>
  reply.text
    .split('\n')
    .slice(1)
    .map((line) => /^`([^`]+)`/.exec(line)?.[1]);

describe('/rabbit queues arguments', () => {
  it('defaults to the 20 biggest backlogs of every cluster', () => {
    expect(parse([]).data).toEqual(args());
    expect(parse(['nova*'], { sort: 'consumers', limit: '5', cluster: 'prod' }).data).toEqual(
      args({ sort: 'consumers', limit: 5, pattern: 'nova*', cluster: 'prod' }),
    );
    expect(parse([], { limit: '200' }).data?.limit).toBe(200);
  });

  it('refuses bad sorts, limits, flags and extra patterns with a message of its own', () => {
    expect(messageOf([], { sort: 'size' })).toBe('--sort takes messages, consumers or name');
    expect(messageOf([], { sort: true })).toBe('--sort takes messages, consumers or name');
    expect(messageOf([], { limit: true })).toBe('--limit needs a number');
    expect(messageOf([], { limit: 'ten' })).toBe('--limit takes a whole number');
    expect(messageOf([], { limit: '-5' })).toBe('--limit takes a whole number');
    expect(messageOf([], { limit: '0' })).toBe('--limit is at least 1');
    expect(messageOf([], { limit: '201' })).toBe('--limit is at most 200');
    expect(messageOf([], { cluster: true })).toBe('--cluster needs a cluster name');
    expect(messageOf([], { vhost: true })).toBe('--vhost needs a vhost name');
    expect(messageOf([], { vhost: '' })).toBe('--vhost needs a vhost name');
    expect(messageOf([], { verbose: true })).toBe(
      'unknown flag --verbose (queues takes --sort, --limit, --vhost and --cluster)',
    );
    expect(messageOf(['a*', 'b*'])).toBe('queues takes at most one name pattern (quote it if it has spaces)');
    expect(messageOf(['*'.repeat(256)])).toBe('a pattern is at most 255 characters');
  });

  it('answers bad arguments with the usage line through the router', async () => {
    const router = new CommandRouter({
      commands: [queuesCommand],
      clusters: backlog.clusters,
      access: new AccessPolicy({ readers: [], operators: [], approvers: [], channels: [] }),
      slashCommand: '/rabbit',
      logger: createLogger('silent'),
    });
    const reply = await router.reply({
      userId: 'U1',
      channelId: 'C1',
      text: 'queues --limit 500',
      respond: async () => undefined,
    });
    expect(reply).toEqual({
      visibility: 'ephemeral',
      text: '--limit is at most 200\nUsage: `/rabbit queues [--sort messages|consumers|name] [--limit N] [--vhost V] [--cluster NAME] [pattern]`',
    });
  });
});

describe('/rabbit queues', () => {
  it('lists the cheap listing, consumers joined from /api/consumers, biggest backlog first', async () => {
    const reply = await queuesCommand.run(backlog.context, args());
    expect(reply.visibility).toBe('ephemeral');
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe('*Queues on `prod`*: 19, by messages');
    expect(lines[1]).toBe('`conductor` · classic · 800 ready, 10 unacked · 1 consumer · `rabbit2@localhost`');
    expect(listedNames(reply).slice(0, 4)).toEqual([
      'conductor',
      'compute_fanout_669e2a65df444336b3234276fd9e4662',
      'notifications.info',
      'scheduler',
    ]);
    // The vhost is named only when it is not the default one.
    expect(reply.text).toContain(
      '`cinder-volume_fanout_storage2:cinder-volume:1` (vhost `openstack`) · classic · 9 ready, 0 unacked · 0 consumers',
    );
    const queueRequest = backlog.asked.find((a) => a.path === '/api/queues');
    expect(queueRequest?.params).toMatchObject({ disable_stats: 'true', enable_queue_totals: 'true' });
    expect(String(queueRequest?.params?.columns)).not.toContain('consumer');
    expect(backlog.asked.find((a) => a.path === '/api/consumers')?.params).toEqual({
      columns: 'queue.name,queue.vhost',
    });
  });

  it('sorts by consumers or by name, ties by name', async () => {
    const byConsumers = listedNames(await queuesCommand.run(backlog.context, args({ sort: 'consumers', limit: 7 })));
    expect(byConsumers).toEqual([
      'cinder-volume_fanout_storage1:cinder-volume:1',
      'compute',
      'compute_fanout_eb6504c7375d42cdbff2f8f17cf2e167',
      'conductor',
      'reply_3d6619fa22ad43cbb92500540c3b7ec0',
      'reply_storage1:cinder-volume:2',
      'scheduler',
    ]);
    const byName = listedNames(await queuesCommand.run(backlog.context, args({ sort: 'name', limit: 3 })));
    expect(byName).toEqual([
      'cinder-volume_fanout_storage1:cinder-volume:1',
      'cinder-volume_fanout_storage2:cinder-volume:1',
      'compute',
    ]);
  });

  it('filters by a glob on the name and says how many matched and how many were left out', async () => {
    const reply = await queuesCommand.run(backlog.context, args({ pattern: '*_fanout_*', limit: 2 }));
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe(
      '*Queues on `prod`*: 6 of 19 match `*_fanout_*`, by messages; 2 shown, 4 left out (`--limit` up to 200)',
    );
    expect(listedNames(reply)).toEqual([
      'compute_fanout_669e2a65df444336b3234276fd9e4662',
      'scheduler_fanout_a3a849377ca54775a69cb9d2c82fbf34',
    ]);
    const single = await queuesCommand.run(backlog.context, args({ pattern: 'reply_?d*' }));
    expect(listedNames(single)).toEqual([
      'reply_3d6619fa22ad43cbb92500540c3b7ec0',
      'reply_9dbe0c2f4c4d40d89023b9823d0cc8bc',
    ]);
    // Regex syntax is literal text in a glob: nothing here is evaluated.
    const none = await queuesCommand.run(backlog.context, args({ pattern: '(a+)+$' }));
    expect(none.text).toBe('*Queues on `prod`*: no queue of 19 matches `(a+)+$`');
  });

  it('throws the directory error for an unknown cluster, which the router answers with the known ones', async () => {
    await expect(queuesCommand.run(backlog.context, args({ cluster: 'staging' }))).rejects.toThrow(UnknownClusterError);
  });

  it('shows a stopped queue state', async () => {
    const { context } = fakeCluster((path) =>
      path === '/api/consumers'
        ? []
        : [{ name: 'conductor', vhost: '/', type: 'classic', state: 'down', messages: 3, messages_ready: 3 }],
    );
    const reply = await queuesCommand.run(context, args());
    expect(reply.text).toContain('`conductor` · classic · 3 ready, 0 unacked · 0 consumers · *down*');
  });
});

/** Answers shaped as a real RabbitMQ 4.0.5 cluster gave them, with oslo.messaging 16 in the kolla layout. */
describe('/rabbit queues on RabbitMQ 4.0', () => {
  const nodes = ['rabbit1@n', 'rabbit2@n', 'rabbit3@n'];
  const quorum = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    vhost: '/',
    type: 'quorum',
    state: 'running',
    node: 'rabbit2@n',
    arguments: { 'x-queue-type': 'quorum' },
    durable: true,
    auto_delete: false,
    exclusive: null,
    leader: 'rabbit2@n',
    members: nodes,
    online: ['rabbit2@n', 'rabbit3@n', 'rabbit1@n'],
    messages: 0,
    messages_ready: 0,
    messages_unacknowledged: 0,
    ...extra,
  });
  // The cheap listing of a stream on 4.0: no node, no members, no counts, `totals: null`.
  const stream = {
    name: 'scheduler_fanout',
    vhost: '/',
    type: 'stream',
    state: 'running',
    arguments: { 'x-max-age': '1800s', 'x-queue-type': 'stream' },
    durable: true,
    auto_delete: false,
    exclusive: null,
    online: ['rabbit2@n', 'rabbit1@n', 'rabbit3@n'],
    totals: null,
    type_specific: null,
  };
  // Its own stats answer: what it retains (4.0.5 reports no bytes), its replicas and its readers per node.
  const streamStats = {
    name: 'scheduler_fanout',
    vhost: '/',
    type: 'stream',
    node: 'rabbit3@n',
    leader: 'rabbit3@n',
    members: nodes,
    online: nodes,
    messages: 3000,
    messages_ready: 3000,
    segments: 1,
    readers: { 'rabbit1@n': 0, 'rabbit2@n': 0, 'rabbit3@n': 4 },
  };
  const consumer = (queue: string) => ({ queue: { name: queue, vhost: '/' } });
  const answers: Record<string, unknown> = {
    '/api/consumers': [consumer('scheduler_fanout'), consumer('scheduler_fanout'), consumer('compute')],
    '/api/queues': [
      quorum('compute'),
      quorum('notifications.error', { messages: 25, messages_ready: 25 }),
      quorum('compute.cmp-2', { online: ['rabbit1@n', 'rabbit2@n'] }),
      quorum('compute_fanout_cmp-1:nova-compute:1', { members: ['rabbit1@n', 'rabbit2@n'], leader: 'rabbit1@n' }),
      quorum('reply_cmp-1:nova-compute:1', { leader: null, online: null }),
      stream,
    ],
    '/api/nodes': nodes.map((name) => ({ name, running: true })),
    '/api/queues/%2F/scheduler_fanout': streamStats,
  };

  it('shows a stream by what it retains, not as a backlog, asked of the stream alone', async () => {
    const { context, asked } = fakeCluster((path) => answers[path]);
    const reply = await queuesCommand.run(context, args());
    const lines = reply.text.split('\n');
    expect(lines[0]).toBe('*Queues on `prod`*: 6, by messages');
    expect(lines[1]).toBe(
      '`scheduler_fanout` · stream · 3,000 messages retained in 1 segment (not a backlog) · 2 consumers · ' +
        '3/3 online, leader `rabbit3@n`',
    );
    expect(reply.text).not.toMatch(/scheduler_fanout` · stream · 0 ready/);
    const statsRequest = asked.find((a) => a.path === '/api/queues/%2F/scheduler_fanout');
    expect(String(statsRequest?.params?.columns)).toContain('messages');
    // Only streams are asked one by one: quorum queues have their counts in the cheap listing.
    expect(asked.filter((a) => a.path.startsWith('/api/queues/')).length).toBe(1);
  });

  it('shows quorum members, online members and leader, and an under-replicated queue visibly', async () => {
    const { context } = fakeCluster((path) => answers[path]);
    const lines = (await queuesCommand.run(context, args({ sort: 'name' }))).text.split('\n');
    const line = (name: string) => lines.find((l) => l.startsWith(`\`${name}\``));
    expect(line('compute')).toBe(
      '`compute` · quorum · 0 ready, 0 unacked · 1 consumer · 3/3 online, leader `rabbit2@n`',
    );
    expect(line('notifications.error')).toContain('· 25 ready, 0 unacked ·');
    expect(line('compute.cmp-2')).toBe(
      '`compute.cmp-2` · quorum · 0 ready, 0 unacked · 0 consumers · ' +
        '*under-replicated: 2/3 online, offline `rabbit3@n`*, leader `rabbit2@n`',
    );
    expect(line('compute_fanout_cmp-1:nova-compute:1')).toContain(
      '*under-replicated: 2/2 online, 2 members for 3 nodes*, leader `rabbit1@n`',
    );
    // Null replica fields do not break the listing; the queue shows what is known.
    expect(line('reply_cmp-1:nova-compute:1')).toContain(
      '*under-replicated: 0/3 online, offline `rabbit1@n`, `rabbit2@n`, `rabbit3@n`*, *no leader*',
    );
  });

  it('judges replication against the size a queue asked for, and not at all without the node list', async () => {
    const small = quorum('small', {
      members: ['rabbit1@n', 'rabbit2@n'],
      online: ['rabbit1@n', 'rabbit2@n'],
      leader: 'rabbit1@n',
      arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 2 },
    });
    const { context } = fakeCluster((path) =>
      path === '/api/nodes' ? answers[path] : path === '/api/queues' ? [small] : [],
    );
    expect((await queuesCommand.run(context, args())).text).toContain('· 2/2 online, leader `rabbit1@n`');
    const blind = fakeCluster((path) => {
      if (path === '/api/nodes') throw new Error('nodes unavailable');
      return path === '/api/queues' ? [quorum('q', { members: ['rabbit1@n'], online: ['rabbit1@n'] })] : [];
    });
    expect((await queuesCommand.run(blind.context, args())).text).toContain('· 1/1 online, leader `rabbit2@n`');
  });

  it("says a stream's size is unknown when its stats cannot be read, and lists the rest", async () => {
    const { context } = fakeCluster((path) => {
      if (path === '/api/queues/%2F/scheduler_fanout') throw new ManagementApiError(path, 404, 'gone');
      return answers[path];
    });
    const reply = await queuesCommand.run(context, args());
    expect(reply.text).toContain('`scheduler_fanout` · stream · retained size unknown · 2 consumers');
    expect(reply.text.split('\n')).toHaveLength(7);
  });

  it('asks only the streams the pattern keeps', async () => {
    const { context, asked } = fakeCluster((path) => answers[path]);
    const reply = await queuesCommand.run(context, args({ pattern: 'compute*' }));
    expect(reply.text).not.toContain('scheduler_fanout');
    expect(asked.some((a) => a.path.startsWith('/api/queues/'))).toBe(false);
  });

  it('shows bytes when the broker reports them for a stream', () => {
    expect(
      depthText({
        type: 'stream',
        messages_ready: 0,
        messages_unacknowledged: 0,
        retained: { messages: 8000, bytes: 2_400_000 },
      }),
    ).toBe('8,000 messages (2.3 MiB) retained (not a backlog)');
  });
});

describe('listing replies within Slack limits', () => {
  const sectionTexts = (blocks: KnownBlock[] = []) =>
    blocks.flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));

  it('packs lines into sections of at most 3,000 characters, in order', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(90)}`);
    const reply = listingReply([{ heading: '*Queues*', lines }]);
    const sections = sectionTexts(reply.blocks);
    expect(sections[0]).toBe('*Queues*');
    expect(sections.length).toBeGreaterThan(7);
    for (const text of sections) expect(text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
    expect(sections.slice(1).join('\n')).toBe(lines.join('\n'));
    expect(reply.text).toBe(['*Queues*', ...lines].join('\n'));
  });

  it('stops before 50 blocks or 40,000 characters and counts the lines it left out', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${i} ${'y'.repeat(1_400)}`);
    const reply = listingReply([{ heading: 'head', lines }]);
    expect(reply.text.length).toBeLessThanOrEqual(MAX_TEXT);
    expect(reply.blocks?.length).toBeLessThanOrEqual(MAX_BLOCKS);
    const shown = sectionTexts(reply.blocks).slice(1).join('\n').split('\n').length;
    expect(shown).toBeLessThan(200);
    expect(reply.blocks?.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `${200 - shown} more line(s) left out: too long for one Slack message` }],
    });

    const many: ListingPart[] = Array.from({ length: 40 }, (_, i) => ({ heading: `cluster ${i}`, lines: ['a', 'b'] }));
    const blocks = listingReply(many).blocks ?? [];
    expect(blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    expect(blocks.at(-1)).toMatchObject({ type: 'context' });
  });
});

describe('/rabbit queues --vhost', () => {
  it('asks the listings of that vhost alone and names it in the heading', async () => {
    const openstack = fakeCluster((path) => {
      const all = path.startsWith('/api/consumers')
        ? (readFixture('backlog-consumers.json') as { queue: { vhost: string } }[])
        : (items('backlog-queues.json') as { vhost: string }[]);
      return path.endsWith('/openstack')
        ? all.filter((i) => ('queue' in i ? i.queue.vhost : i.vhost) === 'openstack')
        : all;
    });
    const reply = await queuesCommand.run(openstack.context, args({ vhost: 'openstack' }));
    expect(openstack.asked.map((a) => a.path).sort()).toEqual([
      '/api/consumers/openstack',
      '/api/nodes',
      '/api/queues/openstack',
    ]);
    const [heading, ...lines] = reply.text.split('\n');
    expect(heading).toMatch(/^\*Queues on `prod`\* in vhost `openstack`: \d+, by messages$/);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toContain('(vhost `openstack`)');
  });

  it('says so when the vhost does not exist, instead of listing nothing', async () => {
    const missing = fakeCluster((path) => {
      if (path !== '/api/nodes') throw new ManagementApiError(path, 404, `HTTP 404 from ${path}: Object Not Found`);
      return readFixture('healthy-nodes.json');
    });
    const reply = await queuesCommand.run(missing.context, args({ vhost: 'nowhere' }));
    expect(reply.text).toBe('*Queues on `prod`* in vhost `nowhere`: no such vhost');
  });
});
