/**
 * `/rabbit connections [--sort channels|name] [--by service] [--limit N] [--vhost V] [--cluster NAME]`: the AMQP
 * connections of a cluster (or of those open in one vhost), each named by the OpenStack process behind it (oslo's `client_properties.connection_name`), most
 * channels first. `--by service` adds them up per OpenStack service and host: the runbook's channel-leak hunt
 * (connection → service → host) in one answer.
 */
import { z } from 'zod';
import type { ChatReply } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { inScope, listingVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import type { ConnectionInfo } from '../src/health/cluster-snapshot.js';
import { describeConnection, openStackProcess, UNKNOWN_SERVICE } from '../src/health/openstack-connection.js';
import { CONNECTION_COLUMNS } from '../src/health/snapshot-fetcher.js';
import { connectionSchema } from '../src/management/schemas.js';
import {
  clusterFlag,
  type ListingPart,
  limitFlag,
  listingOfClusters,
  truncationNote,
  unknownFlags,
  vhostFlag,
  vhostNote,
} from './queues.js';

export type ConnectionSort = 'channels' | 'name';

export interface ConnectionsArgs {
  sort: ConnectionSort;
  byService: boolean;
  limit: number;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** Connections of one OpenStack service on one host. */
export interface ServiceGroup {
  service: string;
  host: string | undefined;
  connections: number;
  channels: number;
  maxChannels: number;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const CONNECTION_ORDER: Record<ConnectionSort, (a: ConnectionInfo, b: ConnectionInfo) => number> = {
  channels: (a, b) => b.channels - a.channels || byText(a.name, b.name),
  name: (a, b) => byText(a.name, b.name),
};

/**
 * The connections of a cluster, or those open in one vhost. Filtered here rather than asked of
 * /api/vhosts/V/connections: the listing is the same one the sweeps ask for, so concurrent asks share it.
 */
export async function fetchConnections(handle: ClusterHandle, vhost?: string): Promise<ConnectionInfo[]> {
  const all = await handle.management.get('/api/connections', z.array(connectionSchema), {
    columns: CONNECTION_COLUMNS,
  });
  return vhost === undefined ? all : all.filter((c) => c.vhost === vhost);
}

/** Heartbeats off (0) is the runbook's 1.7: dead peers go unnoticed for about 11 minutes. */
function heartbeatText(timeout: number | undefined): string | undefined {
  if (timeout === undefined) return undefined;
  return timeout === 0 ? '*heartbeat off*' : `heartbeat ${timeout}s`;
}

export function connectionLine(connection: ConnectionInfo): string {
  const parts = [
    `*${formatCount(connection.channels)} channel${connection.channels === 1 ? '' : 's'}*`,
    describeConnection(connection),
    heartbeatText(connection.timeout),
    connection.state,
  ];
  return parts.filter(Boolean).join(' · ');
}

/** Sorted by total channels, most first: a leaking process stands out even when its channels are spread out. */
export function groupByServiceAndHost(connections: readonly ConnectionInfo[]): ServiceGroup[] {
  const groups = new Map<string, ServiceGroup>();
  for (const connection of connections) {
    const { service = UNKNOWN_SERVICE, host } = openStackProcess(connection);
    // NUL cannot occur in a service name or an address, so the key is unambiguous.
    const key = `${service}\u0000${host ?? ''}`;
    let group = groups.get(key);
    if (!group) {
      group = { service, host, connections: 0, channels: 0, maxChannels: 0 };
      groups.set(key, group);
    }
    group.connections++;
    group.channels += connection.channels;
    group.maxChannels = Math.max(group.maxChannels, connection.channels);
  }
  return [...groups.values()].sort(
    (a, b) => b.channels - a.channels || byText(a.service, b.service) || byText(a.host ?? '', b.host ?? ''),
  );
}

export function serviceGroupLine(group: ServiceGroup): string {
  const who = group.service === UNKNOWN_SERVICE ? '_clients without an oslo name_' : `\`${group.service}\``;
  const where = group.host ? ` on \`${group.host}\`` : '';
  const spread =
    group.connections === 1
      ? '1 connection'
      : `${formatCount(group.connections)} connections, at most ${formatCount(group.maxChannels)} channels on one`;
  return `*${formatCount(group.channels)} channel${group.channels === 1 ? '' : 's'}* · ${who}${where} · ${spread}`;
}

export function connectionsListing(
  cluster: string,
  connections: readonly ConnectionInfo[],
  args: ConnectionsArgs,
): ListingPart {
  const title = `*Connections on \`${cluster}\`*${vhostNote(args.vhost)}`;
  if (connections.length === 0) return { heading: `${title}: none`, lines: [] };
  const total = formatCount(connections.length);
  if (args.byService) {
    const groups = groupByServiceAndHost(connections);
    if (args.sort === 'name') groups.sort((a, b) => byText(a.service, b.service) || byText(a.host ?? '', b.host ?? ''));
    const shown = groups.slice(0, args.limit);
    const order = args.sort === 'channels' ? 'most channels first' : 'by service';
    return {
      heading:
        `${title}: ${total} by service and host, in ${formatCount(groups.length)} group(s), ${order}` +
        truncationNote(shown.length, groups.length),
      lines: shown.map(serviceGroupLine),
    };
  }
  const sorted = [...connections].sort(CONNECTION_ORDER[args.sort]);
  const shown = sorted.slice(0, args.limit);
  const order = args.sort === 'channels' ? 'most channels first' : 'by connection name';
  return {
    heading: `${title}: ${total}, ${order}${truncationNote(shown.length, sorted.length)}`,
    lines: shown.map(connectionLine),
  };
}

export const connectionsCommand = defineCommand<ConnectionsArgs>({
  name: 'connections',
  usage: '[--sort channels|name] [--by service] [--limit N] [--vhost V] [--cluster NAME]',
  summary: 'List connections with their OpenStack service, most channels first; `--by service` adds them up',
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z.array(z.string()).max(0, 'connections takes no arguments, only flags'),
      flags: z.strictObject(
        {
          sort: z.enum(['channels', 'name'], { error: '--sort takes channels or name' }).default('channels'),
          by: z.literal('service', { error: '--by takes only service' }).optional(),
          limit: limitFlag,
          vhost: vhostFlag,
          cluster: clusterFlag,
        },
        { error: unknownFlags('connections takes --sort, --by, --limit, --vhost and --cluster') },
      ),
    })
    .transform(
      (argv): ConnectionsArgs => ({
        sort: argv.flags.sort,
        byService: argv.flags.by === 'service',
        limit: argv.flags.limit,
        vhost: argv.flags.vhost,
        cluster: argv.flags.cluster,
      }),
    ),
  run(context: CommandContext, args: ConnectionsArgs): Promise<ChatReply> {
    const vhost = listingVhost(context.vhostScope, args.vhost);
    return listingOfClusters(context, args.cluster, async (h) =>
      connectionsListing(h.config.name, inScope(context.vhostScope, await fetchConnections(h, vhost)), {
        ...args,
        vhost,
      }),
    );
  },
});
