import { describe, expect, it } from 'vitest';
import {
  type ConnectionsArgs,
  connectionsCommand,
  connectionsListing,
  groupByServiceAndHost,
} from '../../commands/connections.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { UnknownClusterError } from '../../src/errors.js';
import { fixtureConnections } from '../support/snapshot-fixtures.js';

/** A cluster `prod` whose /api/connections answers `connections`; the asked parameters are recorded. */
function fakeCluster(connections: unknown) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'connections-test-secret',
      vhost: '/',
    },
  ]);
  const asked: { path: string; params?: Record<string, string | number> }[] = [];
  clusters.get('prod').management.get = async (path, schema, params) => {
    asked.push({ path, params });
    return schema.parse(connections);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, asked };
}

/** Captured from the channel-leak scenario on a real 3.10 cluster: two leaking connections among nine. */
const leaky = fixtureConnections('leaky-connections.json');

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  connectionsCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');

const args = (overrides: Partial<ConnectionsArgs> = {}): ConnectionsArgs => ({
  sort: 'channels',
  byService: false,
  limit: 20,
  vhost: undefined,
  cluster: undefined,
  ...overrides,
});

describe('/rabbit connections arguments', () => {
  it('defaults to the 20 connections with most channels', () => {
    expect(parse([]).data).toEqual(args());
    expect(parse([], { sort: 'name', by: 'service', limit: '3', cluster: 'prod' }).data).toEqual(
      args({ sort: 'name', byService: true, limit: 3, cluster: 'prod' }),
    );
  });

  it('refuses what it does not understand', () => {
    expect(messageOf([], { by: 'host' })).toBe('--by takes only service');
    expect(messageOf([], { by: true })).toBe('--by takes only service');
    expect(messageOf([], { sort: 'messages' })).toBe('--sort takes channels or name');
    expect(messageOf([], { limit: '1000' })).toBe('--limit is at most 200');
    expect(messageOf(['prod'])).toBe('connections takes no arguments, only flags');
    expect(messageOf([], { service: 'nova' })).toBe(
      'unknown flag --service (connections takes --sort, --by, --limit, --vhost and --cluster)',
    );
  });
});

describe('/rabbit connections', () => {
  it('lists connections with their OpenStack process, most channels first, from the column listing', async () => {
    const { context, asked } = fakeCluster(leaky);
    const reply = await connectionsCommand.run(context, args({ limit: 3 }));
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text.split('\n')).toEqual([
      '*Connections on `prod`*: 9, most channels first; 3 shown, 6 left out (`--limit` up to 200)',
      '*150 channels* · `nova-conductor` on `127.0.0.1`, pid 4242, user `warren`, connection `127.0.0.1:41418 -> 127.0.0.1:30516` · heartbeat 60s · running',
      '*120 channels* · a client (`amqplib`) on `127.0.0.1`, user `warren`, connection `127.0.0.1:33698 -> 127.0.0.1:14702` · heartbeat 60s · running',
      '*1 channel* · `nova-conductor` on `127.0.0.1`, pid 4243, user `warren`, connection `127.0.0.1:33692 -> 127.0.0.1:14702` · heartbeat 60s · running',
    ]);
    expect(asked[0]?.path).toBe('/api/connections');
    expect(String(asked[0]?.params?.columns)).toContain('client_properties');
  });

  it('sorts by connection name and flags disabled heartbeats', () => {
    const heartbeats = fixtureConnections('heartbeat-connections.json');
    const { heading, lines } = connectionsListing('prod', heartbeats, args({ sort: 'name' }));
    expect(heading).toBe('*Connections on `prod`*: 10, by connection name');
    expect(lines.map((l) => /connection `([^`]+)`/.exec(l)?.[1])).toEqual(
      heartbeats.map((c) => c.name).sort((a, b) => (a < b ? -1 : 1)),
    );
    expect(lines.filter((l) => l.includes('*heartbeat off*'))).toHaveLength(3);
    expect(lines.find((l) => l.includes('pid 901'))).toContain('`neutron-openvswitch-agent` on `127.0.0.1`');
  });

  it('adds connections up per service and host, the leaking process first', () => {
    const groups = groupByServiceAndHost(leaky);
    expect(groups.slice(0, 2)).toEqual([
      { service: 'nova-conductor', host: '127.0.0.1', connections: 2, channels: 151, maxChannels: 150 },
      { service: 'unknown', host: '127.0.0.1', connections: 3, channels: 122, maxChannels: 120 },
    ]);
    const { heading, lines } = connectionsListing('prod', leaky, args({ byService: true, limit: 4 }));
    expect(heading).toBe(
      '*Connections on `prod`*: 9 by service and host, in 6 group(s), most channels first; 4 shown, 2 left out (`--limit` up to 200)',
    );
    expect(lines).toEqual([
      '*151 channels* · `nova-conductor` on `127.0.0.1` · 2 connections, at most 150 channels on one',
      '*122 channels* · _clients without an oslo name_ on `127.0.0.1` · 3 connections, at most 120 channels on one',
      '*1 channel* · `cinder-volume` on `127.0.0.1` · 1 connection',
      '*1 channel* · `nova-api` on `127.0.0.1` · 1 connection',
    ]);
    const byName = connectionsListing('prod', leaky, args({ byService: true, sort: 'name' })).lines;
    expect(byName.map((l) => /· (`[^`]+`|_[^_]+_)/.exec(l)?.[1])).toEqual([
      '`cinder-volume`',
      '`nova-api`',
      '`nova-compute`',
      '`nova-conductor`',
      '`nova-scheduler`',
      '_clients without an oslo name_',
    ]);
  });

  it('keeps hosts apart within a service', () => {
    const [first] = leaky;
    if (!first) throw new Error('fixture has no connection');
    const spread = [
      { ...first, name: 'a', peer_host: '10.0.0.1', channels: 5 },
      { ...first, name: 'b', peer_host: '10.0.0.2', channels: 7 },
      { ...first, name: 'c', peer_host: '10.0.0.2', channels: 1 },
    ];
    expect(groupByServiceAndHost(spread).map((g) => [g.host, g.connections, g.channels])).toEqual([
      ['10.0.0.2', 2, 8],
      ['10.0.0.1', 1, 5],
    ]);
  });

  it('says when there are none, and refuses an unknown cluster', async () => {
    const { context } = fakeCluster([]);
    expect((await connectionsCommand.run(context, args())).text).toBe('*Connections on `prod`*: none');
    await expect(connectionsCommand.run(context, args({ cluster: 'staging' }))).rejects.toThrow(UnknownClusterError);
  });
});

describe('/rabbit connections --vhost', () => {
  it('keeps the connections open in that vhost and names it', async () => {
    const inVhost = leaky.map((c, i) => ({ ...c, vhost: i < 3 ? '/nova' : '/' }));
    const { context } = fakeCluster(inVhost);
    const reply = await connectionsCommand.run(context, args({ vhost: '/nova' }));
    const [heading, ...lines] = reply.text.split('\n');
    expect(heading).toMatch(/^\*Connections on `prod`\* in vhost `\/nova`: 3, most channels first$/);
    expect(lines).toHaveLength(3);
  });
});
