import { describe, expect, it } from 'vitest';
import { partitionsCommand, partitionsListing } from '../../commands/partitions.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { UnknownClusterError } from '../../src/errors.js';
import { partitionMeaning } from '../../src/management/broker-version.js';
import { fixtureConnections, fixtureNodes, readFixture } from '../support/snapshot-fixtures.js';

/** A cluster `prod` whose /api/nodes and /api/connections answer from fixtures; asked requests are recorded. */
function fakeCluster(nodes: unknown, connections: unknown, featureFlags: unknown = []) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'partitions-test-secret',
      vhost: '/',
    },
  ]);
  const asked: { path: string; params?: Record<string, string | number> }[] = [];
  clusters.get('prod').management.get = async (path, schema, params) => {
    asked.push({ path, params });
    if (path === '/api/feature-flags') return schema.parse(featureFlags);
    return schema.parse(path === '/api/nodes' ? nodes : connections);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, asked };
}

const items = (name: string) => (readFixture(name) as { items: unknown[] }).items;
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  partitionsCommand.args
    .safeParse({ positionals, flags })
    .error?.issues.map((i) => i.message)
    .join('; ');

describe('/rabbit partitions arguments', () => {
  it('takes only --cluster', () => {
    expect(partitionsCommand.args.safeParse({ positionals: [], flags: { cluster: 'prod' } }).data).toEqual({
      cluster: 'prod',
    });
    expect(messageOf(['prod'])).toBe('partitions takes no arguments; name a cluster with --cluster');
    expect(messageOf([], { node: 'rabbit1' })).toBe('unknown flag --node (partitions takes --cluster)');
    expect(messageOf([], { cluster: true })).toBe('--cluster needs a cluster name');
  });
});

describe('/rabbit partitions', () => {
  it('says clearly that there is no partition, with each node and its client connections', async () => {
    const { context, asked } = fakeCluster(readFixture('healthy-nodes.json'), items('healthy-connections.json'));
    const reply = await partitionsCommand.run(context, { cluster: undefined });
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text.split('\n')).toEqual([
      '*Partitions of `prod`*: :large_green_circle: No partitions · 3/3 nodes running',
      ':large_green_circle: `rabbit1@localhost` · running · 3 client connections',
      ':large_green_circle: `rabbit2@localhost` · running · 2 client connections',
      ':large_green_circle: `rabbit3@localhost` · running · 1 client connection',
    ]);
    // Without stats the broker leaves `partitions` out: /api/nodes must be asked plainly.
    expect(asked.find((a) => a.path === '/api/nodes')?.params).toBeUndefined();
    expect(asked.find((a) => a.path === '/api/connections')?.params).toEqual({ columns: 'name,node' });
  });

  it("shows each node's view, the sides with their client connections, and the side autoheal would keep", () => {
    const { heading, lines } = partitionsListing('prod', {
      nodes: fixtureNodes('partition-nodes.json'),
      connections: fixtureConnections('partition-connections.json'),
    });
    expect(heading).toBe(
      '*Partitions of `prod`*: :red_circle: Network partition: 3 nodes split into 2 sides; trust `rabbit1@localhost` (4 client connections)',
    );
    expect(lines).toEqual([
      ':red_circle: `rabbit1@localhost` · running · 4 client connections · *cannot reach `rabbit2@localhost`, `rabbit3@localhost`*',
      ':red_circle: `rabbit2@localhost` · *unreachable from the answering node* · 1 client connection · *cannot reach `rabbit1@localhost`*',
      ':red_circle: `rabbit3@localhost` · *unreachable from the answering node* · 1 client connection · *cannot reach `rabbit1@localhost`*',
      '> Side 1 (keep): `rabbit1@localhost` — 4 client connections',
      '> Side 2: `rabbit2@localhost`, `rabbit3@localhost` — 2 client connections',
      "> Autoheal's rule (most client connections, then most nodes) keeps side 1: restart the rabbit app on `rabbit2@localhost`, `rabbit3@localhost`.",
    ]);
  });

  it('leaves the choice to the operator on a tie', () => {
    const { lines } = partitionsListing('prod', {
      nodes: fixtureNodes('partition-3way-nodes.json'),
      connections: [],
    });
    expect(lines.filter((l) => l.startsWith('> Side'))).toEqual([
      '> Side 1: `rabbit1@localhost` — 0 client connections',
      '> Side 2: `rabbit2@localhost` — 0 client connections',
      '> Side 3: `rabbit3@localhost` — 0 client connections',
    ]);
    expect(lines.at(-1)).toBe(
      "> No side wins autoheal's rule (most client connections, then most nodes): choose the side clients use by hand.",
    );
  });

  it('tells a stopped node from one on the other side', () => {
    const { heading, lines } = partitionsListing('prod', {
      nodes: fixtureNodes('node-stopped-nodes.json'),
      connections: [],
    });
    expect(heading).toBe('*Partitions of `prod`*: :large_green_circle: No partitions · 2/3 nodes running');
    expect(lines.at(-1)).toBe(':red_circle: `rabbit3@localhost` · *not running* · 0 client connections');
  });

  it('refuses an unknown cluster', async () => {
    const { context } = fakeCluster([], []);
    await expect(partitionsCommand.run(context, { cluster: 'staging' })).rejects.toThrow(UnknownClusterError);
  });
});

describe('/rabbit partitions on RabbitMQ 4.0', () => {
  /** The 3.10 captures, with each node running 4.0.5 as a 4.0 /api/nodes tells it. */
  const on40 = (nodes: ReturnType<typeof fixtureNodes>) =>
    nodes.map((n) => ({ ...n, applications: [{ name: 'rabbit', description: 'RabbitMQ', version: '4.0.5' }] }));
  const khepriFlag = (state: string) => [{ name: 'khepri_db', state, stability: 'experimental' }];

  it('names the metadata store from the khepri_db flag', async () => {
    const nodes = on40(fixtureNodes('healthy-nodes.json'));
    const { context, asked } = fakeCluster(nodes, items('healthy-connections.json'), khepriFlag('disabled'));
    const reply = await partitionsCommand.run(context, { cluster: undefined });
    expect(reply.text.split('\n')[0]).toBe(
      '*Partitions of `prod`*: :large_green_circle: No partitions · 3/3 nodes running · metadata store Mnesia',
    );
    expect(asked.map((a) => a.path)).toContain('/api/feature-flags');
  });

  it("on Mnesia keeps autoheal's rule and says a Mnesia partition does not heal by itself", () => {
    const { heading, lines } = partitionsListing('prod', {
      nodes: on40(fixtureNodes('partition-nodes.json')),
      connections: fixtureConnections('partition-connections.json'),
      khepriFlag: 'disabled',
    });
    expect(heading).toMatch(/^\*Partitions of `prod`\*: :red_circle: Network partition: .* · metadata store Mnesia$/);
    expect(lines.at(-2)).toMatch(/^> Autoheal's rule .* keeps side 1/);
    expect(lines.at(-1)).toBe(`> ${partitionMeaning('mnesia')}`);
  });

  it('on Khepri marks the majority side as the one that keeps the metadata, without autoheal advice', () => {
    const { heading, lines } = partitionsListing('prod', {
      nodes: on40(fixtureNodes('partition-nodes.json')),
      connections: fixtureConnections('partition-connections.json'),
      khepriFlag: 'enabled',
    });
    expect(heading).toMatch(/ · metadata store Khepri \(Raft\)$/);
    expect(lines.filter((l) => l.startsWith('> '))).toEqual([
      '> Side 1: `rabbit1@localhost` — 4 client connections',
      '> Side 2 (majority: metadata writable): `rabbit2@localhost`, `rabbit3@localhost` — 2 client connections',
      `> ${partitionMeaning('khepri')}`,
    ]);
  });
});
