import { describe, expect, it } from 'vitest';
import { type BindingsArgs, bindingSchema, bindingsCommand } from '../../commands/bindings.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { ManagementApiError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { unreachableCluster } from '../support/unreachable-cluster.js';

const binding = (source: string, destination: string, key: string, type: 'queue' | 'exchange' = 'queue') => ({
  source,
  vhost: '/',
  destination,
  destination_type: type,
  routing_key: key,
  arguments: {},
  properties_key: key,
});

/** What oslo.messaging leaves on a 3.10 broker: an RPC server's queues, and a reply queue with its own exchange. */
const ANSWERS: Record<string, unknown> = {
  '/api/queues/%2F/compute.host1/bindings': [
    binding('', 'compute.host1', 'compute.host1'),
    binding('nova', 'compute.host1', 'compute.host1'),
    // One odd item (no destination type) is left out, not fatal.
    { source: 'nova', vhost: '/', destination: 'compute.host1' },
  ],
  '/api/exchanges/%2F/compute_fanout/bindings/source': [
    binding('compute_fanout', 'compute_fanout_b1', ''),
    binding('compute_fanout', 'compute_fanout_a7', ''),
  ],
  '/api/exchanges/%2F/compute_fanout/bindings/destination': [],
  '/api/queues/%2F/reply_4f2a/bindings': [
    binding('', 'reply_4f2a', 'reply_4f2a'),
    binding('reply_4f2a', 'reply_4f2a', 'reply_4f2a'),
  ],
  '/api/exchanges/%2F/reply_4f2a/bindings/source': [binding('reply_4f2a', 'reply_4f2a', 'reply_4f2a')],
  '/api/exchanges/%2F/reply_4f2a/bindings/destination': [binding('openstack', 'reply_4f2a', '#', 'exchange')],
};

function fakeCluster() {
  const clusters = new ClusterDirectory([unreachableCluster('bindings-test-secret')]);
  const asked: string[] = [];
  clusters.get('prod').management.get = async (path, schema) => {
    asked.push(path);
    if (!path.includes('/bindings')) {
      // The queue or exchange itself: it exists when the broker has bindings for it (as these fixtures are made).
      const kind = path.startsWith('/api/queues/') ? `${path}/bindings` : `${path}/bindings/source`;
      if (ANSWERS[kind] === undefined)
        throw new ManagementApiError(path, 404, `HTTP 404 from ${path}: Object Not Found`);
      return schema.parse({ name: decodeURIComponent(path.split('/').at(-1) ?? '') });
    }
    // The real broker answers [] for the bindings of a queue or exchange that does not exist.
    const body = ANSWERS[path] ?? [];
    return (body as unknown[]).flatMap((i) => bindingSchema.safeParse(i).data ?? []) as never;
  };
  const context: CommandContext = { userId: 'U1', channelId: 'C1', slashCommand: '/rabbit', clusters, commands: [] };
  return { clusters, context, asked };
}

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  bindingsCommand.args.safeParse({ positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');
const args = (name: string, overrides: Partial<BindingsArgs> = {}): BindingsArgs => ({
  name,
  only: undefined,
  limit: 20,
  vhost: undefined,
  cluster: undefined,
  ...overrides,
});

describe('/rabbit bindings arguments', () => {
  it('takes one name and --queue or --exchange', () => {
    expect(parse(['reply_4f2a']).data).toEqual(args('reply_4f2a'));
    expect(parse(['x'], { queue: true, vhost: '/nova' }).data).toEqual(args('x', { only: 'queue', vhost: '/nova' }));
    expect(parse(['x'], { exchange: true }).data).toEqual(args('x', { only: 'exchange' }));
  });

  it('refuses what it does not understand', () => {
    expect(messageOf([])).toBe('bindings takes one queue or exchange name (quote it if it has spaces)');
    expect(messageOf(['a', 'b'])).toBe('bindings takes one queue or exchange name (quote it if it has spaces)');
    expect(messageOf(['x'], { queue: true, exchange: true })).toBe('--queue and --exchange exclude each other');
    expect(messageOf(['x'], { queue: 'yes' })).toBe('--queue takes no value');
    expect(messageOf(['x'], { source: 'a' })).toBe(
      'unknown flag --source (bindings takes --queue, --exchange, --limit, --vhost and --cluster)',
    );
  });

  it('reads --queue as a flag without a value through the router, and answers bad arguments with the usage', async () => {
    const { clusters } = fakeCluster();
    const router = new CommandRouter({
      commands: [bindingsCommand],
      clusters,
      access: new AccessPolicy({ readers: [], operators: [], approvers: [], channels: [] }),
      slashCommand: '/rabbit',
      logger: createLogger('silent'),
    });
    const ask = (text: string) => router.reply({ userId: 'U1', channelId: 'C1', text, respond: async () => undefined });
    expect((await ask('bindings --queue reply_4f2a')).text.split('\n')[0]).toMatch(
      /^\*Bindings of queue `reply_4f2a`\*/,
    );
    expect(await ask('bindings')).toEqual({
      visibility: 'ephemeral',
      text:
        'bindings takes one queue or exchange name (quote it if it has spaces)\n' +
        'Usage: `/rabbit bindings <queue-or-exchange> [--queue|--exchange] [--limit N] [--vhost V] [--cluster NAME]`',
    });
  });
});

describe('/rabbit bindings', () => {
  it('shows what routes into a queue, the implicit default-exchange binding named as such', async () => {
    const { context, asked } = fakeCluster();
    const reply = await bindingsCommand.run(context, args('compute.host1'));
    expect(asked.sort()).toEqual([
      '/api/exchanges/%2F/compute.host1',
      '/api/queues/%2F/compute.host1',
      '/api/queues/%2F/compute.host1/bindings',
    ]);
    expect(reply.text.split('\n')).toEqual([
      '*Bindings of queue `compute.host1`* (vhost `/`) on `prod`: 2 routing into it',
      'from _the default exchange_ · key `compute.host1` (implicit: every queue has it)',
      'from exchange `nova` · key `compute.host1`',
    ]);
  });

  it('shows where an exchange routes to', async () => {
    const reply = await bindingsCommand.run(fakeCluster().context, args('compute_fanout'));
    expect(reply.text.split('\n')).toEqual([
      '*Bindings of exchange `compute_fanout`* (vhost `/`) on `prod`: 2 out, 0 in from other exchanges',
      'to queue `compute_fanout_a7` · no routing key',
      'to queue `compute_fanout_b1` · no routing key',
    ]);
  });

  it('shows both when the name is a queue and an exchange, and says so; --exchange narrows to one', async () => {
    const { context } = fakeCluster();
    const both = await bindingsCommand.run(context, args('reply_4f2a'));
    expect(both.text.split('\n')).toEqual([
      '*Bindings of queue `reply_4f2a`* (vhost `/`) on `prod`: 2 routing into it · `reply_4f2a` is both a queue and ' +
        'an exchange: both shown, `--queue` or `--exchange` for one',
      'from _the default exchange_ · key `reply_4f2a` (implicit: every queue has it)',
      'from exchange `reply_4f2a` · key `reply_4f2a`',
      '',
      '*Bindings of exchange `reply_4f2a`* (vhost `/`) on `prod`: 1 out, 1 in from other exchanges',
      'to queue `reply_4f2a` · key `reply_4f2a`',
      'from exchange `openstack` · key `#`',
    ]);
    const one = await bindingsCommand.run(context, args('reply_4f2a', { only: 'exchange', limit: 1 }));
    expect(one.text.split('\n')).toEqual([
      '*Bindings of exchange `reply_4f2a`* (vhost `/`) on `prod`: 1 out, 1 in from other exchanges; 1 shown, 1 left out (`--limit` up to 200)',
      'to queue `reply_4f2a` · key `reply_4f2a`',
    ]);
  });

  it('names what it looked for and where when nothing has that name', async () => {
    const { context } = fakeCluster();
    const reply = await bindingsCommand.run(context, args('nope', { vhost: '/nova' }));
    expect(reply.visibility).toBe('ephemeral');
    expect(reply.text).toMatch(/^No queue or exchange `nope` in vhost `\/nova` of `prod`\. /);
    expect((await bindingsCommand.run(context, args('nope', { only: 'queue' }))).text).toMatch(
      /^No queue `nope` in vhost `\/` of `prod`\. /,
    );
  });
});
