import { describe, expect, it } from 'vitest';
import { type ExchangesArgs, exchangeSchema, exchangesCommand, exchangesListing } from '../../commands/exchanges.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { ManagementApiError } from '../../src/errors.js';

/** The exchanges of an oslo vhost as /api/exchanges lists them (3.10, `columns` applied): built-ins, oslo's own. */
const OSLO_EXCHANGES = [
  { name: '', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false },
  { name: 'amq.direct', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false },
  { name: 'amq.topic', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false },
  { name: 'nova', vhost: '/', type: 'topic', durable: false, auto_delete: false, internal: false },
  { name: 'compute_fanout', vhost: '/', type: 'fanout', durable: false, auto_delete: true, internal: false },
  {
    name: 'neutron',
    vhost: 'openstack',
    type: 'topic',
    durable: false,
    auto_delete: false,
    internal: false,
    policy: 'ae',
  },
  { name: 'reply_4f2a', vhost: '/', type: 'direct', durable: false, auto_delete: true, internal: false },
  // An odd item (no type) is left out of the listing by the client, not fatal.
  { name: 'broken', vhost: '/' },
];

function fakeCluster(answer: (path: string) => unknown) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'exchanges-test-secret',
      vhost: '/',
    },
  ]);
  const asked: { path: string; params?: Record<string, string | number> }[] = [];
  const management = clusters.get('prod').management;
  management.get = async (path, schema, params) => {
    asked.push({ path, params });
    // As the real client does: an array answer is validated item by item.
    const body = answer(path);
    if (Array.isArray(body)) return body.flatMap((i) => exchangeSchema.safeParse(i).data ?? []) as never;
    return schema.parse(body);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, asked };
}

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  exchangesCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');
const args = (overrides: Partial<ExchangesArgs> = {}): ExchangesArgs => ({
  limit: 20,
  pattern: undefined,
  vhost: undefined,
  cluster: undefined,
  ...overrides,
});

describe('/rabbit exchanges arguments', () => {
  it('takes a pattern, --limit, --vhost and --cluster', () => {
    expect(parse([]).data).toEqual(args());
    expect(parse(['nova*'], { vhost: '/nova', limit: '5', cluster: 'prod' }).data).toEqual(
      args({ pattern: 'nova*', vhost: '/nova', limit: 5, cluster: 'prod' }),
    );
  });

  it('refuses what it does not understand', () => {
    expect(messageOf(['a', 'b'])).toBe('exchanges takes at most one name pattern (quote it if it has spaces)');
    expect(messageOf([], { type: 'topic' })).toBe(
      'unknown flag --type (exchanges takes --limit, --vhost and --cluster)',
    );
    expect(messageOf([], { vhost: true })).toBe('--vhost needs a vhost name');
    expect(messageOf([], { limit: '0' })).toBe('--limit is at least 1');
  });
});

describe('/rabbit exchanges', () => {
  it("lists a cluster's own exchanges by vhost and name, with type and flags, built-ins counted apart", async () => {
    const { context, asked } = fakeCluster(() => OSLO_EXCHANGES);
    const reply = await exchangesCommand.run(context, args());
    expect(asked).toEqual([
      { path: '/api/exchanges', params: { columns: 'name,vhost,type,durable,auto_delete,internal,policy' } },
    ]);
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text.split('\n')).toEqual([
      '*Exchanges on `prod`*: 4 (and 3 built-in `amq.*` and default exchanges), by name',
      '`compute_fanout` · fanout · transient · auto-delete',
      '`nova` · topic · transient',
      '`reply_4f2a` · direct · transient · auto-delete',
      '`neutron` (vhost `openstack`) · topic · transient · policy `ae`',
    ]);
  });

  it('shows built-ins when the pattern names them, and cuts at --limit', async () => {
    const { context } = fakeCluster(() => OSLO_EXCHANGES);
    const amq = await exchangesCommand.run(context, args({ pattern: 'amq.*', limit: 1 }));
    expect(amq.text.split('\n')).toEqual([
      '*Exchanges on `prod`*: 2 match `amq.*`, by name; 1 shown, 1 left out (`--limit` up to 200)',
      '`amq.direct` · direct · durable',
    ]);
    const none = await exchangesCommand.run(context, args({ pattern: 'glance*' }));
    expect(none.text).toBe('*Exchanges on `prod`*: no exchange matches `glance*`');
  });

  it('asks one vhost with --vhost, and says when it does not exist', async () => {
    const { context, asked } = fakeCluster((path) => {
      if (path.endsWith('/nowhere')) throw new ManagementApiError(path, 404, 'HTTP 404');
      return OSLO_EXCHANGES.filter((e) => e.vhost === 'openstack');
    });
    const reply = await exchangesCommand.run(context, args({ vhost: 'openstack' }));
    expect(asked[0]?.path).toBe('/api/exchanges/openstack');
    expect(reply.text.split('\n')[0]).toBe('*Exchanges on `prod`* in vhost `openstack`: 1, by name');
    expect(exchangesListing('prod', undefined, args({ vhost: 'nowhere' })).heading).toBe(
      '*Exchanges on `prod`* in vhost `nowhere`: no such vhost',
    );
    expect((await exchangesCommand.run(context, args({ vhost: 'nowhere' }))).text).toBe(
      '*Exchanges on `prod`* in vhost `nowhere`: no such vhost',
    );
  });
});
