import { describe, expect, it } from 'vitest';
import { policiesCommand, policiesListing, policyLine } from '../../commands/policies.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { UnknownClusterError } from '../../src/errors.js';
import { policySchema } from '../../src/management/schemas.js';
import { readFixture } from '../support/snapshot-fixtures.js';

/** A cluster `prod` whose /api/policies, /api/queues and /api/nodes answer from fixtures; requests are recorded. */
function fakeCluster(policies: unknown, queues: unknown, nodes: unknown = readFixture('healthy-nodes.json')) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'policies-test-secret',
      vhost: '/',
    },
  ]);
  const asked: { path: string; params?: Record<string, string | number> }[] = [];
  clusters.get('prod').management.get = async (path, schema, params) => {
    asked.push({ path, params });
    return schema.parse(path.startsWith('/api/policies') ? policies : path === '/api/nodes' ? nodes : queues);
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { context, asked };
}

/** Captured from a real 3.10 cluster: three policies, and 20 queues of which 8 have one in effect. */
const policies = readFixture('policies.json') as unknown[];
const queues = (readFixture('policy-queues.json') as { items: unknown[] }).items;

const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  policiesCommand.args
    .safeParse({ positionals, flags })
    .error?.issues.map((i) => i.message)
    .join('; ');

describe('/rabbit policies arguments', () => {
  it('takes only --vhost and --cluster', () => {
    expect(policiesCommand.args.safeParse({ positionals: [], flags: {} }).data).toEqual({
      vhost: undefined,
      cluster: undefined,
    });
    expect(policiesCommand.args.safeParse({ positionals: [], flags: { vhost: '/nova' } }).data).toEqual({
      vhost: '/nova',
      cluster: undefined,
    });
    expect(messageOf(['ha-all'])).toBe('policies takes no arguments; name a cluster with --cluster');
    expect(messageOf([], { vhost: true })).toBe('--vhost needs a vhost name');
    expect(messageOf([], { pattern: '^a' })).toBe('unknown flag --pattern (policies takes --vhost and --cluster)');
  });
});

describe('/rabbit policies', () => {
  it('lists each policy, highest priority first within a vhost, with the queues it governs now', async () => {
    const { context, asked } = fakeCluster(policies, queues);
    const reply = await policiesCommand.run(context, { vhost: undefined, cluster: undefined });
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text.split('\n')).toEqual([
      '*Policies of `prod`*: 3 · 12 queues without a policy',
      '`ha-rpc` (vhost `/`) · pattern `^(compute|scheduler)$` · applies to queues · priority 1 · `ha-mode=exactly, ha-params=2, ha-sync-mode=automatic` · *2 queues*',
      '`notifications-ttl` (vhost `/`) · pattern `^(versioned_)?notifications\\.` · applies to queues · priority 0 · `max-length=10000, message-ttl=3600000` · *2 queues*',
      '`reply-expiry` (vhost `/`) · pattern `^reply_` · applies to queues · priority 0 · `expires=1800000` · *4 queues*',
    ]);
    // Only the effective policy of each queue is needed: the cheap listing, not the stats one.
    expect(asked.find((a) => a.path === '/api/queues')?.params).toEqual({
      disable_stats: 'true',
      enable_queue_totals: 'true',
      columns: 'name,vhost,policy',
    });
  });

  it('counts per vhost: a policy of the same name elsewhere governs other queues', async () => {
    const elsewhere = { vhost: 'openstack', name: 'reply-expiry', pattern: '^reply_', definition: { expires: 1 } };
    const moved = [{ name: 'reply_a', vhost: 'openstack', policy: 'reply-expiry' }];
    const reply = await policiesCommand.run(fakeCluster([...policies, elsewhere], [...queues, ...moved]).context, {
      vhost: undefined,
      cluster: undefined,
    });
    expect(reply.text.split('\n').at(-1)).toBe(
      '`reply-expiry` (vhost `openstack`) · pattern `^reply_` · applies to all · priority 0 · `expires=1` · *1 queue*',
    );
  });

  it('marks exchange policies, empty definitions and cuts long values', () => {
    const exchanges = policySchema.parse({
      vhost: '/',
      name: 'ae',
      pattern: '^nova$',
      'apply-to': 'exchanges',
      definition: { 'alternate-exchange': 'unrouted' },
    });
    expect(policyLine(exchanges, 0)).toBe(
      '`ae` (vhost `/`) · pattern `^nova$` · applies to exchanges · priority 0 · `alternate-exchange=unrouted` · exchanges only',
    );
    const empty = policySchema.parse({ vhost: '/', name: 'noop', pattern: '.*' });
    expect(policyLine(empty, 0)).toContain('· empty definition · *0 queues*');
    const nodes = Array.from({ length: 20 }, (_, i) => `rabbit${i}@host-${i}`);
    const long = policySchema.parse({ vhost: '/', name: 'ha', pattern: '.*', definition: { 'ha-params': nodes } });
    const value = /ha-params=([^`]*)`/.exec(policyLine(long, 0))?.[1] ?? '';
    expect(value).toHaveLength(60);
    expect(value.endsWith('…')).toBe(true);
  });

  it('says when there are none, and refuses an unknown cluster', async () => {
    const { context } = fakeCluster(
      [],
      [
        { name: 'conductor', vhost: '/' },
        { name: 'compute', vhost: '/' },
      ],
    );
    expect((await policiesCommand.run(context, { vhost: undefined, cluster: undefined })).text).toBe(
      '*Policies of `prod`*: none · 2 queues without a policy',
    );
    expect(policiesListing('prod', { policies: [], queuesPerPolicy: new Map(), unpoliced: 1 }).heading).toBe(
      '*Policies of `prod`*: none · 1 queue without a policy',
    );
    await expect(policiesCommand.run(context, { vhost: undefined, cluster: 'staging' })).rejects.toThrow(
      UnknownClusterError,
    );
  });
});

describe('/rabbit policies on RabbitMQ 4.0', () => {
  const nodesOf = (version: string) =>
    ['rabbit1@n', 'rabbit2@n', 'rabbit3@n'].map((name) => ({
      name,
      running: true,
      applications: [{ name: 'rabbit', description: 'RabbitMQ', version }],
    }));

  it('marks ha-* keys as having no effect, since 4.0 has no classic mirroring', async () => {
    const { context, asked } = fakeCluster(policies, queues, nodesOf('4.0.5'));
    const lines = (await policiesCommand.run(context, { vhost: undefined, cluster: undefined })).text.split('\n');
    expect(lines[1]).toBe(
      '`ha-rpc` (vhost `/`) · pattern `^(compute|scheduler)$` · applies to queues · priority 1 · ' +
        '`ha-mode=exactly, ha-params=2, ha-sync-mode=automatic` · *2 queues* · ' +
        '*ha-mode, ha-params, ha-sync-mode: no effect on RabbitMQ 4.0.5 (classic mirroring removed in 4.0)*',
    );
    expect(lines[3]).toMatch(/`expires=1800000` · \*4 queues\*$/);
    expect(asked.find((a) => a.path === '/api/nodes')?.params).toEqual({ columns: 'name,running,applications' });
  });

  it('leaves them alone before 4.0, and when the version is unknown', async () => {
    for (const nodes of [nodesOf('3.13.7'), new Error('no nodes')]) {
      const { context } = fakeCluster(policies, queues, nodes);
      expect((await policiesCommand.run(context, { vhost: undefined, cluster: undefined })).text).not.toContain(
        'no effect',
      );
    }
  });
});

describe('/rabbit policies --vhost', () => {
  it("asks that vhost's policies and queues and names it", async () => {
    const { context, asked } = fakeCluster(policies, queues);
    const reply = await policiesCommand.run(context, { vhost: 'openstack', cluster: undefined });
    expect(asked.map((a) => a.path).sort()).toEqual(['/api/nodes', '/api/policies/openstack', '/api/queues/openstack']);
    expect(reply.text.split('\n')[0]).toMatch(/^\*Policies of `prod`\* in vhost `openstack`: 3 · /);
  });

  it('says so when the vhost does not exist', () => {
    expect(policiesListing('prod', undefined, 'nowhere').heading).toBe(
      '*Policies of `prod`* in vhost `nowhere`: no such vhost',
    );
  });
});
