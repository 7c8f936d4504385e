/**
 * `/rabbit consumers <queue> [--vhost V] [--cluster NAME]`: who consumes one queue — each consumer's channel, the
 * OpenStack process behind its connection, its prefetch and ack mode. The second half of the runbook's hand hunt
 * (queue → consumers → connection → service), and the quick answer to "why does this queue not drain".
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { objectVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { ManagementApiError } from '../src/errors.js';
import { openStackProcess } from '../src/health/openstack-connection.js';
import { connectionSchema, consumerSchema, type ManagementConnection, queueSchema } from '../src/management/schemas.js';
import { clusterFlag, depthText, type ListingPart, listingReply, replicaText, unknownFlags } from './queues.js';

/** A queue with thousands of consumers is not read line by line; the count stays exact. */
export const MAX_CONSUMERS_SHOWN = 100;

export interface ConsumersArgs {
  queue: string;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** The broker can answer `[]` (an empty Erlang proplist) instead of an object for a channel it no longer knows. */
const channelDetailsSchema = z.preprocess(
  (value) => (Array.isArray(value) ? undefined : value),
  z
    .looseObject({
      name: z.string(),
      connection_name: z.string(),
      peer_host: z.string(),
      user: z.string(),
      node: z.string(),
      number: z.number(),
    })
    .partial()
    .optional(),
);

const consumerDetailSchema = consumerSchema.extend({
  active: z.boolean().optional(),
  /** 'up', 'waiting' (single active consumer), … Stream consumers report `active: false` while up. */
  activity_status: z.string().optional(),
  channel_details: channelDetailsSchema,
});
export type ConsumerDetail = z.infer<typeof consumerDetailSchema>;

const queueDetailSchema = queueSchema.extend({
  segments: z.number().nonnegative().nullish(),
  consumer_details: z.array(consumerDetailSchema).default([]),
});
export type QueueDetail = z.infer<typeof queueDetailSchema>;

/** What the consumer's connection tells about the process behind it, by connection name. */
export type ConnectionsByName = ReadonlyMap<
  string,
  Pick<ManagementConnection, 'name' | 'peer_host' | 'user' | 'client_properties'>
>;

const OWNER_COLUMNS = 'name,peer_host,user,client_properties';
const connectionsSchema = z.array(connectionSchema);

/** The queue with its consumers, or undefined when the cluster has no such queue (or no such vhost). */
export async function fetchQueueConsumers(
  handle: ClusterHandle,
  vhost: string,
  queue: string,
): Promise<{ queue: QueueDetail; connections: ConnectionsByName } | undefined> {
  let detail: QueueDetail;
  try {
    detail = await handle.management.get(
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
      queueDetailSchema,
    );
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
  if (detail.consumer_details.length === 0) return { queue: detail, connections: new Map() };
  // Only the connection carries oslo's name for the process: the channel knows the socket pair alone.
  const connections = await handle.management.get('/api/connections', connectionsSchema, { columns: OWNER_COLUMNS });
  return { queue: detail, connections: new Map(connections.map((c) => [c.name, c])) };
}

export function consumerLine(consumer: ConsumerDetail, connections: ConnectionsByName): string {
  const channel = consumer.channel_details;
  const connection = channel?.connection_name ? connections.get(channel.connection_name) : undefined;
  const user = connection?.user ?? channel?.user;
  const { service, pid, host } = openStackProcess({
    name: connection?.name ?? channel?.connection_name ?? '',
    peer_host: connection?.peer_host ?? channel?.peer_host,
    user,
    client_properties: connection?.client_properties ?? {},
  });
  const name = service ? `\`${service}\`` : 'a client';
  const who = [host ? `${name} on \`${host}\`` : name];
  if (pid !== undefined) who.push(`pid ${pid}`);
  if (user) who.push(`user \`${user}\``);
  const parts = [who.join(', ')];
  parts.push(channel?.name ? `channel \`${channel.name}\`` : 'channel unknown');
  if (consumer.prefetch_count !== undefined) {
    // Without a limit the broker pushes the whole queue at a slow consumer.
    parts.push(
      consumer.prefetch_count === 0 ? '*no prefetch limit*' : `prefetch ${formatCount(consumer.prefetch_count)}`,
    );
  }
  if (consumer.ack_required !== undefined) {
    // Auto-ack loses whatever the consumer holds when it dies.
    parts.push(consumer.ack_required ? 'manual ack' : '*auto ack*');
  }
  const waiting =
    consumer.activity_status !== undefined ? consumer.activity_status === 'waiting' : consumer.active === false;
  if (waiting) parts.push('waiting (single active consumer)');
  return parts.join(' · ');
}

export function consumersListing(
  cluster: string,
  vhost: string,
  found: { queue: QueueDetail; connections: ConnectionsByName },
): ListingPart {
  const { queue, connections } = found;
  const details = queue.consumer_details;
  const count = queue.consumers ?? details.length;
  const where = `\`${queue.name}\` (vhost \`${vhost}\`) on \`${cluster}\``;
  // A stream's stats answer counts what it retains as "ready": it is kept for readers, not waiting for them.
  const retained =
    queue.type === 'stream'
      ? { messages: queue.messages, ...(typeof queue.segments === 'number' ? { segments: queue.segments } : {}) }
      : undefined;
  const replicas = replicaText(queue);
  const depth = [depthText({ ...queue, retained }), replicas].filter(Boolean).join(' · ');
  if (count === 0) return { heading: `*No consumers* of ${where} · ${depth}`, lines: [] };
  const shown = details.slice(0, MAX_CONSUMERS_SHOWN);
  const notes: string[] = [];
  if (details.length > shown.length) notes.push(`${formatCount(details.length - shown.length)} more left out`);
  // Consumer details come from the statistics, which lag a few seconds behind the count.
  if (details.length < count) notes.push(`${formatCount(count - details.length)} not in the statistics yet`);
  return {
    heading:
      `*${formatCount(count)} consumer${count === 1 ? '' : 's'}* of ${where} · ${depth}` +
      (notes.length > 0 ? ` (${notes.join('; ')})` : ''),
    lines: shown.map((c) => consumerLine(c, connections)),
  };
}

export const consumersCommand = defineCommand<ConsumersArgs>({
  name: 'consumers',
  usage: '<queue> [--vhost V] [--cluster NAME]',
  summary: "A queue's consumers: their OpenStack process, channel, prefetch and ack mode",
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z.array(z.string()).length(1, 'consumers takes one queue name (quote it if it has spaces)'),
      flags: z.strictObject(
        {
          vhost: z.string({ error: '--vhost needs a vhost name' }).optional(),
          cluster: clusterFlag,
        },
        { error: unknownFlags('consumers takes --vhost and --cluster') },
      ),
    })
    .transform(
      (argv): ConsumersArgs => ({
        queue: argv.positionals[0] as string,
        vhost: argv.flags.vhost,
        cluster: argv.flags.cluster,
      }),
    ),
  async run(context: CommandContext, args: ConsumersArgs): Promise<ChatReply> {
    const handles = context.clusters.select(args.cluster);
    if (handles.length === 0) return ephemeral('No clusters are configured.');
    // Without --vhost, each cluster's own vhost (clusters[].vhost): where warren and OpenStack work.
    const lookups = await Promise.all(
      handles.map(async (h) => {
        const vhost = objectVhost(context.vhostScope, args.vhost, h.config.vhost);
        return { cluster: h.config.name, vhost, found: await fetchQueueConsumers(h, vhost, args.queue) };
      }),
    );
    const parts = lookups.flatMap(({ cluster, vhost, found }) =>
      found ? [consumersListing(cluster, vhost, found)] : [],
    );
    if (parts.length === 0) {
      const places = lookups.map((l) => `vhost \`${l.vhost}\` of \`${l.cluster}\``).join(', ');
      return ephemeral(
        `No queue \`${args.queue}\` in ${places}. ` +
          `\`${context.slashCommand} queues PATTERN\` finds queues by a glob on their name, e.g. \`*fanout*\`.`,
      );
    }
    return listingReply(parts);
  },
});
