/**
 * A channel limited to some vhosts (access.vhostScopes), through the real router and commands against a fake
 * management API holding three vhosts: every listing shows only in-scope items and asks only the scope's vhost when
 * it is one, an explicit `--vhost` outside the scope is refused before anything is asked, and a command about one
 * object defaults to the scope.
 */
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../commands/index.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { inScope, listingVhost, objectVhost, VhostScope } from '../../src/chatops/vhost-scope.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { ManagementApiError, VhostOutOfScopeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { unreachableCluster } from '../support/unreachable-cluster.js';

const NEUTRON = 'C0NEUTRON';
const NETWORK = 'C0NETWORK';
const OPS = 'C0OPS';
const VHOSTS = ['/nova', '/neutron', '/neutron-l3'];

const queue = (vhost: string) => ({ name: `q${vhost.replace('/', '-')}`, vhost, type: 'classic', messages: 1 });
const byVhost = <T extends { vhost: string }>(items: T[], vhost?: string) =>
  vhost === undefined ? items : items.filter((i) => i.vhost === vhost);
const QUEUES = VHOSTS.map(queue);
const CONNECTIONS = VHOSTS.map((vhost) => ({
  name: `10.0.0.1:5000 -> 10.0.0.2:5672 ${vhost}`,
  vhost,
  channels: 1,
  client_properties: { connection_name: `host${vhost.replace('/', '-')}:agent:1` },
}));
const EXCHANGES = VHOSTS.map((vhost) => ({ name: `x${vhost.replace('/', '-')}`, vhost, type: 'topic' }));
const POLICIES = VHOSTS.map((vhost) => ({ name: `p${vhost.replace('/', '-')}`, vhost, pattern: '.*', priority: 0 }));

/** One cluster whose management API holds three vhosts; every path asked is recorded. */
function fakeCluster() {
  const clusters = new ClusterDirectory([
    unreachableCluster('scope-test-secret', { remediation: { user: 'remediate', password: 'scope-test-secret-2' } }),
  ]);
  const asked: string[] = [];
  clusters.get('prod').management.get = async (path, schema) => {
    asked.push(path);
    const [, , listing, encoded, name] = path.split('/');
    const vhost = encoded === undefined ? undefined : decodeURIComponent(encoded);
    if (vhost !== undefined && !VHOSTS.includes(vhost)) throw new ManagementApiError(path, 404, 'Object Not Found');
    const lists: Record<string, unknown[]> = {
      queues: QUEUES,
      exchanges: EXCHANGES,
      policies: POLICIES,
      connections: CONNECTIONS,
      consumers: [],
      nodes: [],
    };
    const list = lists[listing ?? ''];
    if (list && name === undefined) return schema.parse(byVhost(list as { vhost: string }[], vhost));
    const one = (list as { vhost: string; name: string }[] | undefined)?.find(
      (i) => i.vhost === vhost && i.name === name,
    );
    if (!one) throw new ManagementApiError(path, 404, 'Object Not Found');
    return schema.parse(path.endsWith('/bindings') ? [] : { ...one, consumer_details: [] });
  };
  return { clusters, asked };
}

function router(clusters: ClusterDirectory) {
  return new CommandRouter({
    commands: allCommands,
    clusters,
    access: new AccessPolicy({
      readers: [],
      operators: ['U0OPER'],
      approvers: [],
      channels: [],
      vhostScopes: [
        { channels: [NEUTRON], vhosts: ['/neutron'] },
        { channels: [NETWORK], vhosts: ['/neutron*'] },
      ],
    }),
    slashCommand: '/rabbit',
    logger: createLogger('silent'),
  });
}

async function ask(channelId: string, text: string) {
  const { clusters, asked } = fakeCluster();
  const reply = await router(clusters).reply({ userId: 'U0OPER', channelId, text, respond: async () => undefined });
  return { reply, text: reply.text, asked };
}

/** The vhosts whose items a reply shows, told by the item names (`q-neutron`, `host-neutron-l3` …). */
const shown = (text: string) => VHOSTS.filter((v) => new RegExp(`${v.replace('/', '-')}(?![-\\w])`).test(text));

describe('VhostScope', () => {
  it('matches vhosts by glob and names its only vhost when it has one without a glob', () => {
    const one = new VhostScope(['/neutron']);
    expect(one.only).toBe('/neutron');
    expect(one.allows('/neutron')).toBe(true);
    expect(one.allows('/neutron-l3')).toBe(false);
    const globbed = new VhostScope(['/neutron*']);
    expect(globbed.only).toBeUndefined();
    expect(globbed.allows('/neutron-l3')).toBe(true);
    expect(globbed.allows('/nova')).toBe(false);
    expect(new VhostScope(['/a', '/b']).only).toBeUndefined();
  });

  it('defaults a listing to the only vhost, narrows the rest, and leaves an unscoped channel alone', () => {
    const scope = new VhostScope(['/neutron*']);
    expect(listingVhost(undefined, undefined)).toBeUndefined();
    expect(listingVhost(new VhostScope(['/neutron']), undefined)).toBe('/neutron');
    expect(listingVhost(scope, '/neutron-l3')).toBe('/neutron-l3');
    expect(inScope(scope, QUEUES).map((q) => q.vhost)).toEqual(['/neutron', '/neutron-l3']);
    expect(inScope(scope, [{ vhost: undefined }])).toEqual([]);
    expect(inScope(undefined, QUEUES)).toEqual(QUEUES);
  });

  it("defaults a command about one object to the scope, else the cluster's own vhost, or refuses", () => {
    expect(objectVhost(undefined, undefined, '/')).toBe('/');
    expect(objectVhost(new VhostScope(['/neutron']), undefined, '/')).toBe('/neutron');
    expect(objectVhost(new VhostScope(['/*']), undefined, '/')).toBe('/');
    expect(() => objectVhost(new VhostScope(['/neutron*']), undefined, '/')).toThrow(VhostOutOfScopeError);
    expect(() => objectVhost(new VhostScope(['/neutron*']), undefined, '/')).toThrow(/name one with `--vhost`/);
  });
});

describe('listings in a scoped channel', () => {
  it.each([
    ['queues', '/api/queues'],
    ['connections', '/api/connections'],
    ['exchanges', '/api/exchanges'],
    ['policies', '/api/policies'],
  ])('%s shows every vhost in an unscoped channel', async (command) => {
    const { text } = await ask(OPS, command);
    expect(shown(text)).toEqual(VHOSTS);
  });

  it.each([
    ['queues', '/api/queues/%2Fneutron'],
    ['exchanges', '/api/exchanges/%2Fneutron'],
    ['policies', '/api/policies/%2Fneutron'],
    // connections are filtered from the one listing the sweeps also ask
    ['connections', '/api/connections'],
  ])('%s asks and shows only the one vhost of the scope', async (command, path) => {
    const { text, asked } = await ask(NEUTRON, command);
    expect(shown(text)).toEqual(['/neutron']);
    expect(asked).toContain(path);
    expect(asked.some((p) => /%2Fnova|%2Fneutron-l3/.test(p))).toBe(false);
    expect(text).toContain('in vhost `/neutron`');
  });

  it.each(['queues', 'connections', 'exchanges', 'policies'])(
    '%s narrows every vhost to a globbed scope',
    async (command) => {
      const { text } = await ask(NETWORK, command);
      expect(shown(text)).toEqual(['/neutron', '/neutron-l3']);
    },
  );

  it.each(['queues', 'connections', 'exchanges', 'policies'])(
    '%s --vhost outside the scope is refused before anything is asked',
    async (command) => {
      const { reply, asked } = await ask(NEUTRON, `${command} --vhost /nova`);
      expect(reply).toEqual({
        visibility: 'ephemeral',
        text: 'Not allowed: this channel sees only vhost `/neutron` (access.vhostScopes), not `/nova`.',
      });
      expect(asked).toEqual([]);
    },
  );

  it('takes --vhost inside a globbed scope', async () => {
    const { text } = await ask(NETWORK, 'queues --vhost /neutron-l3');
    expect(shown(text)).toEqual(['/neutron-l3']);
  });

  it('counts only in-scope queues under a policy listing', async () => {
    const { text } = await ask(NETWORK, 'policies');
    expect(text).toContain('2 queues without a policy');
  });
});

describe('commands about one object in a scoped channel', () => {
  it.each([
    ['consumers q-neutron', '/api/queues/%2Fneutron/q-neutron'],
    ['bindings q-neutron', '/api/queues/%2Fneutron/q-neutron'],
    ['peek q-neutron --cluster prod', '/api/queues/%2Fneutron/q-neutron'],
  ])('%s defaults to the scope', async (command, path) => {
    const { asked, text } = await ask(NEUTRON, command);
    expect(asked[0]).toBe(path);
    expect(text).not.toMatch(/^Not allowed/);
  });

  it.each(['consumers q-nova', 'bindings q-nova', 'peek q-nova'])(
    '%s --vhost /nova is refused before anything is asked',
    async (command) => {
      const { text, asked } = await ask(NEUTRON, `${command} --vhost /nova`);
      expect(text).toBe('Not allowed: this channel sees only vhost `/neutron` (access.vhostScopes), not `/nova`.');
      expect(asked).toEqual([]);
    },
  );

  it.each(['consumers q-neutron', 'bindings q-neutron', 'peek q-neutron'])(
    "%s without --vhost in a scope of several vhosts, the cluster's own out of it: asks to name one",
    async (command) => {
      const { text, asked } = await ask(NETWORK, command);
      expect(text).toBe(
        'Not allowed: this channel sees only vhost `/neutron*` (access.vhostScopes): name one with `--vhost`.',
      );
      expect(asked).toEqual([]);
    },
  );
});

describe('commands that show every vhost', () => {
  it.each(['alerts', 'definitions', 'health', 'tap', 'silences'])(
    '%s is refused in a scoped channel, with the reason',
    async (command) => {
      const { text, asked } = await ask(NEUTRON, command);
      const name = command.split(' ')[0];
      expect(text).toBe(
        `Not allowed: \`${name}\` shows every vhost, and this channel sees only vhost \`/neutron\` (access.vhostScopes).`,
      );
      expect(asked).toEqual([]);
    },
  );

  it.each(['status', 'partitions', 'help', 'workflows'])('%s, which shows no vhost, still runs', async (command) => {
    const { text } = await ask(NEUTRON, command);
    expect(text).not.toMatch(/^Not allowed/);
  });
});
