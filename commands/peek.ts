/**
 * `/rabbit peek QUEUE [N] [--vhost V] [--cluster NAME]`: the first N ready messages of a queue (5 by default, at most
 * 20), each with where it came from and its oslo message decoded by the tap's own envelope reader: a notification's
 * event type, priority, publisher and payload, an RPC call's method and arguments. Secret-named keys (the request
 * context's `auth_token`, a `password` in arguments) are masked with warren's scrubber before anything is rendered,
 * and a body that is neither JSON nor oslo is described, never shown.
 *
 * It reads through the management API's `POST /api/queues/V/Q/get` with `ackmode: ack_requeue_true`: the broker
 * takes the messages unacknowledged on a channel of its own and closes it, which puts them back where they were,
 * in order. What that leaves behind (documented in docs/commands.md):
 * - each message comes back marked `redelivered`;
 * - on a quorum queue each peek counts as one delivery attempt towards its delivery limit (4.0's default is 20, and
 *   a message past it is dropped or dead-lettered), so peek shows every message's count and refuses queues whose
 *   limit is so low that a few peeks would throw messages away;
 * - while the peek holds them, consumers cannot have those messages.
 * Streams cannot be read with basic.get at all; peek refuses them with the reason.
 *
 * Operators only (`access: operate`): a message may carry what a reader should not see even scrubbed, and taking
 * messages needs read permission on the queue, which only the remediation user has (the monitoring user must not:
 * read permission also allows purging).
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatBytes, formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { objectVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { ErrorCode, isCodedError, ManagementApiError } from '../src/errors.js';
import { clusterBrokerVersion, defaultQuorumDeliveryLimit } from '../src/management/broker-version.js';
import { nodesSchema, queueSchema } from '../src/management/schemas.js';
import { scrubDeep } from '../src/secrets.js';
import { openEnvelope, readOsloMessage } from '../src/tap/notification-envelope.js';
import { clusterFlag, listingReply, unknownFlags, vhostFlag } from './queues.js';

export const DEFAULT_PEEK = 5;
export const MAX_PEEK = 20;
/** Bytes of each body the broker sends back; a longer body is described, not shown (a cut JSON cannot be read). */
export const PEEK_MAX_BYTES = 64 * 1024;
/** A quorum queue whose delivery limit is below this is not peeked: a few peeks would drop its messages. */
export const MIN_DELIVERY_LIMIT = 5;
/** Characters of decoded JSON shown per message: 20 of them stay under Slack's 40,000. */
const MAX_SHOWN = 1_500;
/** Nesting shown; deeper values are elided before scrubbing, so nothing deeper can escape the scrubber's reach. */
const MAX_DEPTH = 6;

export interface PeekArgs {
  queue: string;
  count: number;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** An Erlang proplist that is empty comes back as `[]` rather than `{}`. */
const objectOrEmpty = <S extends z.ZodType>(schema: S) =>
  z.preprocess((v) => (Array.isArray(v) || v === null ? undefined : v), schema.optional());

const peekedQueueSchema = queueSchema.extend({
  /** 4.x reports a quorum queue's effective limit with its stats (-1: none). */
  delivery_limit: z.number().nullish(),
  effective_policy_definition: objectOrEmpty(z.record(z.string(), z.unknown())),
});
type PeekedQueue = z.infer<typeof peekedQueueSchema>;

/** One message as `POST /api/queues/V/Q/get` answers it. */
export const gotMessageSchema = z.looseObject({
  payload_bytes: z.number().nonnegative(),
  redelivered: z.boolean(),
  exchange: z.string(),
  routing_key: z.string(),
  properties: objectOrEmpty(
    z.looseObject({ headers: objectOrEmpty(z.record(z.string(), z.unknown())), content_type: z.string().optional() }),
  ),
  payload: z.string(),
  payload_encoding: z.enum(['string', 'base64']),
});
export type GotMessage = z.infer<typeof gotMessageSchema>;

/** The delivery limit messages of this queue are held to; undefined: none (or not a quorum queue). */
export function deliveryLimitOf(queue: PeekedQueue, defaultLimit: number | undefined): number | undefined {
  if (queue.type !== 'quorum') return undefined;
  const own =
    queue.delivery_limit ??
    queue.arguments['x-delivery-limit'] ??
    queue.effective_policy_definition?.['delivery-limit'] ??
    defaultLimit;
  return typeof own === 'number' && own >= 0 ? own : undefined;
}

/** Objects and arrays below `depth` levels become a marker, so the scrubber sees all that is shown. */
function elideDeep(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value)) return value.map((v) => elideDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, elideDeep(v, depth + 1)]));
}

/** Compact JSON of a value, secret-named keys masked, cut to MAX_SHOWN, in a code block. */
function shown(value: unknown): string {
  const json = JSON.stringify(scrubDeep(elideDeep(value))) ?? 'undefined';
  const cut = json.length > MAX_SHOWN ? `${json.slice(0, MAX_SHOWN - 1)}…` : json;
  // A backtick run in the text would close the block early.
  return `\`\`\`${cut.replace(/```/g, '`\u200b``')}\`\`\``;
}

const UNREADABLE = {
  oversized: 'too large',
  encoding: 'not UTF-8',
  not_json: 'not JSON',
  envelope: 'a broken oslo envelope',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What an oslo message (or other JSON) is: a notification, an RPC call, cast or reply, or just JSON. */
export function describeBody(message: GotMessage): string[] {
  if (message.payload_encoding === 'base64') {
    return [`_binary body, ${formatBytes(message.payload_bytes)}: not shown_`];
  }
  const opened = openEnvelope(Buffer.from(message.payload, 'utf8'), { maxBytes: PEEK_MAX_BYTES });
  if (message.payload_bytes > PEEK_MAX_BYTES || (!opened.ok && opened.reason === 'oversized')) {
    return [
      `_${formatBytes(message.payload_bytes)} body, over the ${formatBytes(PEEK_MAX_BYTES)} a peek reads: not shown_`,
    ];
  }
  if (!opened.ok) {
    // Only JSON is scrubbed key by key; other text could hold anything, so it is not shown. Nor is the decoder's
    // detail: V8's JSON errors quote the start of the text.
    return [`_not an oslo message (${UNREADABLE[opened.reason]}): not shown_`];
  }
  const envelope = opened.envelopeVersion === 2 ? 'oslo v2 envelope' : 'no envelope';
  const notification = readOsloMessage(opened.message);
  if (notification) {
    const publisher = notification.publisherId ? ` · from \`${notification.publisherId}\`` : '';
    return [
      `notification \`${notification.eventType}\` · ${notification.priority}${publisher} · ${notification.timestamp} UTC · ${envelope}`,
      shown(notification.payload),
    ];
  }
  const message_ = opened.message;
  if (!isRecord(message_)) return [`JSON · ${envelope}`, shown(message_)];
  // The request context travels as `_context_*` keys: its ids help, the rest (roles, catalog, token) is noise.
  const request = message_._context_request_id;
  const rest = Object.fromEntries(Object.entries(message_).filter(([k]) => !k.startsWith('_context_')));
  const requestText = typeof request === 'string' ? ` · request \`${request}\`` : '';
  if (typeof message_.method === 'string') {
    const kind = typeof message_._msg_id === 'string' ? 'RPC call' : 'RPC cast';
    return [`${kind} \`${message_.method}\`${requestText} · ${envelope}`, shown(message_.args ?? {})];
  }
  if ('result' in message_ || 'failure' in message_) {
    return [`RPC reply${requestText} · ${envelope}`, shown(rest)];
  }
  return [`JSON${requestText} · ${envelope}`, shown(rest)];
}

function deliveryCountOf(message: GotMessage): number {
  const count = message.properties?.headers?.['x-delivery-count'];
  return typeof count === 'number' ? count : 0;
}

/** The first line about a message: where it came from, its size, and what the peek did to it. */
export function messageHeading(index: number, message: GotMessage, limit: number | undefined): string {
  const from = message.exchange === '' ? 'the default exchange' : `\`${message.exchange}\``;
  const parts = [`*${index + 1}.* from ${from}`, `key \`${message.routing_key}\``, formatBytes(message.payload_bytes)];
  if (message.redelivered) parts.push('redelivered before');
  if (limit !== undefined) {
    // This peek is one more return: the count the message has now.
    const now = deliveryCountOf(message) + 1;
    const left = limit - now;
    parts.push(
      left <= 2
        ? `*delivery count ${now} of ${limit}: ${left <= 0 ? 'the next return drops it' : `${left} more return(s) before it is dropped or dead-lettered`}*`
        : `delivery count ${now} of ${limit}`,
    );
  }
  return parts.join(' · ');
}

const stream = (name: string) =>
  `\`${name}\` is a stream: streams cannot be read with basic.get, which is what a peek uses. ` +
  'Read it with a stream consumer and an `x-stream-offset` instead.';

/** The queue, or undefined when it (or its vhost) does not exist. */
async function fetchQueue(handle: ClusterHandle, vhost: string, name: string): Promise<PeekedQueue | undefined> {
  try {
    return await handle.management.get(
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      peekedQueueSchema,
    );
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
}

export async function peek(handle: ClusterHandle, vhost: string, args: PeekArgs): Promise<ChatReply> {
  const cluster = handle.config.name;
  const queue = await fetchQueue(handle, vhost, args.queue);
  if (!queue) return ephemeral(`No queue \`${args.queue}\` in vhost \`${vhost}\` of \`${cluster}\`.`);
  if (queue.type === 'stream') return ephemeral(stream(args.queue));
  const nodes = await handle.management
    .get('/api/nodes', nodesSchema, { columns: 'name,running,applications' })
    .catch(() => undefined);
  const version = clusterBrokerVersion((nodes ?? []).filter((n) => n.running));
  const limit = deliveryLimitOf(queue, version ? defaultQuorumDeliveryLimit(version) : undefined);
  if (limit !== undefined && limit < MIN_DELIVERY_LIMIT) {
    return ephemeral(
      `Not peeking \`${args.queue}\`: it is a quorum queue with a delivery limit of ${limit}, and every peek counts as ` +
        'one delivery attempt, so a few peeks would drop or dead-letter its messages.',
    );
  }
  let messages: GotMessage[];
  try {
    messages = await handle.management.readAsRemediation(
      'POST',
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(args.queue)}/get`,
      z.array(gotMessageSchema),
      { count: args.count, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: PEEK_MAX_BYTES },
    );
  } catch (error) {
    if (isCodedError(error) && error.code === ErrorCode.RemediationCredentialsError) {
      return ephemeral(
        `Cannot peek on \`${cluster}\`: taking messages needs read permission on the queue, which warren uses only ` +
          'with the remediation user (clusters[].remediationUser), and none is configured.',
      );
    }
    if (error instanceof ManagementApiError && error.status === 404) {
      return ephemeral(`No queue \`${args.queue}\` in vhost \`${vhost}\` of \`${cluster}\`.`);
    }
    throw error;
  }
  const where = `\`${args.queue}\` (vhost \`${vhost}\`) on \`${cluster}\``;
  const consumers = queue.consumers ?? 0;
  const notes = [
    'requeued in place, now marked redelivered',
    ...(limit !== undefined ? [`each peek counts towards the delivery limit of ${limit}`] : []),
    ...(consumers > 0 ? [`${formatCount(consumers)} consumer(s) could not have them during the peek`] : []),
  ];
  if (messages.length === 0) {
    const unacked =
      queue.messages_unacknowledged > 0
        ? `; ${formatCount(queue.messages_unacknowledged)} unacked held by consumers cannot be peeked`
        : '';
    return ephemeral(`*Peek at ${where}*: no ready message${unacked}.`);
  }
  return listingReply([
    {
      heading: `*Peek at ${where}* · ${queue.type} · the first ${formatCount(messages.length)} of ${formatCount(queue.messages_ready)} ready · ${notes.join(' · ')}`,
      lines: messages.map((m, i) => [messageHeading(i, m, limit), ...describeBody(m)].join('\n')),
    },
  ]);
}

export const peekCommand = defineCommand<PeekArgs>({
  name: 'peek',
  usage: `<queue> [N] [--vhost V] [--cluster NAME]`,
  summary: `Show the first N (default ${DEFAULT_PEEK}, at most ${MAX_PEEK}) ready messages of a queue, oslo envelope decoded, secrets masked; they are requeued in place`,
  access: 'operate',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z
        .array(z.string())
        .min(1, 'peek takes a queue name and optionally how many messages')
        .max(2, 'peek takes a queue name and optionally how many messages (quote a name with spaces)'),
      flags: z.strictObject(
        { vhost: vhostFlag, cluster: clusterFlag },
        { error: unknownFlags('peek takes --vhost and --cluster') },
      ),
    })
    .transform((argv, ctx): PeekArgs => {
      const [queue, countText] = argv.positionals as [string, string | undefined];
      let count = DEFAULT_PEEK;
      if (countText !== undefined) {
        count = /^\d+$/.test(countText) ? Number(countText) : Number.NaN;
        if (!(count >= 1 && count <= MAX_PEEK)) {
          ctx.addIssue({ code: 'custom', message: `N is a whole number from 1 to ${MAX_PEEK}` });
          return z.NEVER;
        }
      }
      return { queue, count, vhost: argv.flags.vhost, cluster: argv.flags.cluster };
    }),
  async run(context: CommandContext, args: PeekArgs): Promise<ChatReply> {
    const handles = context.clusters.select(args.cluster);
    if (handles.length === 0) return ephemeral('No clusters are configured.');
    // A peek touches the queue (redelivered flags, delivery counts): one cluster, named when there are several.
    if (handles.length > 1) {
      const names = handles.map((h) => `\`${h.config.name}\``).join(', ');
      return ephemeral(`Name the cluster to peek on with --cluster (one of ${names}).`);
    }
    const handle = handles[0] as ClusterHandle;
    return peek(handle, objectVhost(context.vhostScope, args.vhost, handle.config.vhost), args);
  },
});
