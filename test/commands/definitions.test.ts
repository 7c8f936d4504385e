import { describe, expect, it } from 'vitest';
import { definitionsCommand, definitionsListing, MAX_NAMES, summarise } from '../../commands/definitions.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import type { DefinitionsStore, DefinitionsSummary } from '../../src/cluster/definitions-store.js';

const HASH = 'kSkA8vNBFkDbDaaJvJ/bO8M6PvSPFpDONQ8/8rlEhHkrRkSN';
const SHOVEL_PASSWORD = 'definitions-test-shovel-pw';

/** A /api/definitions answer as 3.10 gives it, trimmed: one of each kind, secrets where the real one has them. */
const exported = (queues: string[]) => ({
  rabbit_version: '3.10.7',
  users: [{ name: 'nova', password_hash: HASH, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [] }],
  vhosts: [{ name: '/' }],
  permissions: [{ user: 'nova', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  topic_permissions: [],
  parameters: [
    {
      vhost: '/',
      component: 'shovel',
      name: 'to-dr',
      value: { 'src-uri': `amqp://shovel:${SHOVEL_PASSWORD}@dr`, 'src-queue': 'x' },
    },
  ],
  global_parameters: [{ name: 'cluster_name', value: 'rabbit@prod' }],
  policies: [{ vhost: '/', name: 'ha', pattern: '.*', 'apply-to': 'queues', definition: {}, priority: 0 }],
  queues: queues.map((name) => ({ name, vhost: '/', durable: true, auto_delete: false, arguments: {} })),
  exchanges: [{ name: 'nova', vhost: '/', type: 'topic', durable: false, auto_delete: false, internal: false }],
  bindings: [
    {
      source: 'nova',
      vhost: '/',
      destination: 'compute',
      destination_type: 'queue',
      routing_key: 'compute',
      arguments: {},
    },
    // An odd item is left out and counted.
    { source: 'nova', vhost: '/' },
  ],
});

function memoryStore(): DefinitionsStore {
  const kept = new Map<string, DefinitionsSummary>();
  return {
    previous: async (cluster: string) => kept.get(cluster),
    save: async (cluster: string, summary: DefinitionsSummary) => void kept.set(cluster, summary),
  } as unknown as DefinitionsStore;
}

function fakeCluster(answers: unknown[], store?: DefinitionsStore) {
  const clusters = new ClusterDirectory([
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'definitions-test-secret',
      vhost: '/',
      remediation: { user: 'fix', password: 'definitions-test-fix' },
    },
  ]);
  const asked: string[] = [];
  clusters.get('prod').management.readAsRemediation = async (method, path, schema) => {
    asked.push(`${method} ${path}`);
    return schema.parse(answers.shift());
  };
  const context: CommandContext = {
    userId: 'U1',
    channelId: 'C1',
    slashCommand: '/rabbit',
    clusters,
    commands: [],
    ...(store ? { definitions: store } : {}),
  };
  return { context, asked };
}

describe('/rabbit definitions', () => {
  it('takes only --cluster', () => {
    expect(definitionsCommand.args.safeParse({ positionals: [], flags: {} }).data).toEqual({ cluster: undefined });
    expect(
      definitionsCommand.args.safeParse({ positionals: [], flags: { vhost: '/' } }).error?.issues[0]?.message,
    ).toBe('unknown flag --vhost (definitions takes --cluster)');
  });

  it('counts every kind, keeps names only, and diffs against the previous export', async () => {
    const store = memoryStore();
    const { context, asked } = fakeCluster(
      [exported(['compute', 'scheduler']), exported(['compute', 'conductor'])],
      store,
    );
    const first = await definitionsCommand.run(context, { cluster: undefined });
    expect(asked).toEqual(['GET /api/definitions']);
    expect(first.text.split('\n')).toEqual([
      '*Definitions of `prod`*: 1 vhosts · 1 users · 1 permissions · 0 topic permissions · 1 policies · 1 parameters · ' +
        '1 global parameters · 1 exchanges · 2 queues · 1 bindings · 1 unreadable item(s) left out',
      'No previous `definitions` of this cluster to compare with: this one is kept for the next.',
    ]);
    const second = await definitionsCommand.run(context, { cluster: undefined });
    expect(second.text.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^Since \d{4}-\d\d-\d\dT[\d:]+Z:$/),
      '*queues* added (1): `//conductor`',
      '*queues* removed (1): `//scheduler`',
    ]);
    const everything = JSON.stringify([first, second, await store.previous('prod')]);
    expect(everything).not.toContain(HASH);
    expect(everything).not.toContain(SHOVEL_PASSWORD);
  });

  it('names at most a few per kind and counts the rest', () => {
    const before = summarise(exported([]), 0).summary;
    const now = summarise(exported(Array.from({ length: 25 }, (_, i) => `q${String(i).padStart(2, '0')}`)), 1).summary;
    const { lines } = definitionsListing('prod', now, before, 0);
    expect(lines[1]).toBe(
      `*queues* added (25): ${Array.from({ length: MAX_NAMES }, (_, i) => `\`//q${String(i).padStart(2, '0')}\``).join(', ')} and 15 more`,
    );
  });

  it('says why without remediation credentials', async () => {
    const clusters = new ClusterDirectory([
      {
        name: 'prod',
        amqp: [],
        management: ['http://127.0.0.1:9'],
        managementUser: 'm',
        managementPassword: 'p',
        vhost: '/',
      },
    ]);
    const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
    expect((await definitionsCommand.run(context, { cluster: undefined })).text).toBe(
      '*Definitions of `prod`*: not readable\n' +
        'The export needs the `administrator` tag, which only the remediation user has; none is configured.',
    );
  });
});
