/**
 * What warren reads from the RabbitMQ management API (3.10 to 4.x), validated at the boundary. Objects are loose
 * (unknown fields kept) because the API grows between versions; fields a stopped node does not report
 * are optional, since /api/nodes lists a down node with little more than its name (on 4.0: name, running, type and
 * being_drained). What each version was seen to answer is captured in test/fixtures/rabbitmq-<version>/.
 * A listing is validated item by item (listing.ts), so an item these schemas refuse is left out, not the listing.
 */
import { z } from 'zod';

const count = z.number().nonnegative();

export const nodeSchema = z.looseObject({
  name: z.string(),
  running: z.boolean(),
  type: z.string().optional(),
  partitions: z.array(z.string()).default([]),
  mem_used: count.optional(),
  mem_limit: count.optional(),
  mem_alarm: z.boolean().optional(),
  disk_free: count.optional(),
  disk_free_limit: count.optional(),
  disk_free_alarm: z.boolean().optional(),
  fd_used: count.optional(),
  fd_total: count.optional(),
  sockets_used: count.optional(),
  sockets_total: count.optional(),
  proc_used: count.optional(),
  proc_total: count.optional(),
  uptime: count.optional(),
  net_ticktime: count.optional(),
  /** The node's running applications; the `rabbit` one carries the RabbitMQ version (see broker-version.ts). */
  applications: z.array(z.looseObject({ name: z.string(), version: z.string().optional() })).optional(),
});
export type ManagementNode = z.infer<typeof nodeSchema>;
/** Just the fields nodeSchema reads: the full node objects are large, and a burst of commands asks for them often. */
export const NODE_COLUMNS = Object.keys(nodeSchema.shape).join(',');
export const nodesSchema = z.array(nodeSchema);

/** A node URL's own /api/overview, read for the node behind the URL and that node's versions. */
export const nodeOverviewSchema = z.looseObject({
  node: z.string(),
  rabbitmq_version: z.string().optional(),
  erlang_version: z.string().optional(),
});

export const overviewSchema = z.looseObject({
  cluster_name: z.string().optional(),
  rabbitmq_version: z.string().optional(),
  erlang_version: z.string().optional(),
  management_version: z.string().optional(),
  node: z.string().optional(),
  object_totals: z
    .looseObject({
      connections: count.default(0),
      channels: count.default(0),
      exchanges: count.default(0),
      queues: count.default(0),
      consumers: count.default(0),
    })
    .optional(),
  queue_totals: z
    .looseObject({
      messages: count.optional(),
      messages_ready: count.optional(),
      messages_unacknowledged: count.optional(),
    })
    .optional(),
});
export type ManagementOverview = z.infer<typeof overviewSchema>;

export const whoamiSchema = z.looseObject({ name: z.string(), tags: z.union([z.string(), z.array(z.string())]) });

/** One page of a paginated listing (`?page=N&page_size=500`). */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.looseObject({
    items: z.array(item),
    page: z.number().int(),
    page_count: z.number().int().nonnegative(),
    total_count: z.number().int().nonnegative().optional(),
    filtered_count: z.number().int().nonnegative().optional(),
  });
}

/**
 * Node names of a queue's replicas. 4.0 lists every classic queue with `online: null` in the cheap listing (what
 * blinded whole sweeps, issue 14); null reads as absent, like a field the broker leaves out.
 */
const nodeList = z
  .array(z.string())
  .nullish()
  .transform((nodes) => nodes ?? undefined)
  .optional();

/**
 * A queue as listed with `disable_stats=true&enable_queue_totals=true` (cheap on large clusters) or with stats.
 * Without stats the broker leaves out `consumers` and `idle_since`; the snapshot fills consumers from
 * /api/consumers. Mirror fields exist only for classic mirrored queues (never on 4.0), members/online/leader for
 * quorum ones and streams. What 4.0 answers besides (test/fixtures/rabbitmq-4.0):
 * - a stream (`type: stream`) in the cheap listing has no depths, no node, leader or members, only `online`, with
 *   `totals: null` and `type_specific: null`; its depths (retained messages) come only with stats, with `readers`
 *   and `segments`;
 * - every classic queue has `online: null` in the cheap listing;
 * - a classic queue whose node is down is left out of the cheap listing, and listed with stats as `state: down`
 *   without depths; right after a node stopped, a quorum queue was listed with stats but without depths.
 */
export const queueSchema = z.looseObject({
  name: z.string(),
  vhost: z.string(),
  node: z.string().optional(),
  type: z.string().default('classic'),
  state: z.string().optional(),
  policy: z.string().nullish(),
  durable: z.boolean().optional(),
  auto_delete: z.boolean().optional(),
  exclusive: z.boolean().nullish(),
  arguments: z.record(z.string(), z.unknown()).default({}),
  consumers: count.optional(),
  messages: count.default(0),
  messages_ready: count.default(0),
  messages_unacknowledged: count.default(0),
  idle_since: z.string().optional(),
  slave_nodes: nodeList,
  synchronised_slave_nodes: nodeList,
  members: nodeList,
  online: nodeList,
  leader: z.string().nullish(),
});
export type ManagementQueue = z.infer<typeof queueSchema>;

export const connectionSchema = z.looseObject({
  name: z.string(),
  node: z.string().optional(),
  user: z.string().optional(),
  vhost: z.string().optional(),
  peer_host: z.string().optional(),
  peer_port: z.number().optional(),
  channels: count.default(0),
  /** Negotiated heartbeat in seconds; 0 means heartbeats are disabled. */
  timeout: count.optional(),
  state: z.string().optional(),
  connected_at: z.number().optional(),
  client_properties: z
    .looseObject({
      connection_name: z.string().optional(),
      product: z.string().optional(),
      platform: z.string().optional(),
    })
    .default({}),
});
export type ManagementConnection = z.infer<typeof connectionSchema>;

export const consumerSchema = z.looseObject({
  queue: z.looseObject({ name: z.string(), vhost: z.string() }),
  consumer_tag: z.string().optional(),
  ack_required: z.boolean().optional(),
  prefetch_count: z.number().optional(),
  channel_details: z
    .looseObject({
      connection_name: z.string().optional(),
      peer_host: z.string().optional(),
      number: z.number().optional(),
    })
    .partial()
    .optional(),
});
export type ManagementConsumer = z.infer<typeof consumerSchema>;

/** `/api/feature-flags`: e.g. `khepri_db` (disabled on 4.0 and 4.1 unless turned on) and what blocks an upgrade. */
export const featureFlagSchema = z.looseObject({ name: z.string(), state: z.string() });
export type ManagementFeatureFlag = z.infer<typeof featureFlagSchema>;

export const policySchema = z.looseObject({
  vhost: z.string(),
  name: z.string(),
  pattern: z.string(),
  'apply-to': z.string().default('all'),
  definition: z.record(z.string(), z.unknown()).default({}),
  priority: z.number().default(0),
});
export type ManagementPolicy = z.infer<typeof policySchema>;
