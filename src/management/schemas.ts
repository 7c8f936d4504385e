/**
 * What warren reads from the RabbitMQ 3.10 management API, validated at the boundary. Objects are loose
 * (unknown fields kept) because the API grows between versions; fields a stopped node does not report
 * are optional, since /api/nodes lists a down node with little more than its name.
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
});
export type ManagementNode = z.infer<typeof nodeSchema>;
export const nodesSchema = z.array(nodeSchema);

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
