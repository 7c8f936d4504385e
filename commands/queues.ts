/**
 * `/rabbit queues [--sort messages|consumers|name] [--limit N] [--vhost V] [--cluster NAME] [pattern]`: the queues of a cluster
 * as `rabbitmqctl list_queues` would show them, biggest backlog first, optionally only those whose name matches a
 * glob. It reads the cheap listing the health sweeps use, never the stats listing, so it stays fast on clusters with
 * tens of thousands of queues. Quorum queues and streams show their members, online members and leader. A stream
 * shows what it retains, asked of each stream alone: the cheap listing has no counts for streams on 4.0, and what a
 * stream holds is kept for its readers, not a backlog.
 *
 * It also owns what the other read-only listings (connections, consumers, partitions, policies, exchanges, bindings)
 * share: the `--cluster`, `--vhost` and `--limit` flags, asking a listing of one vhost, and the packing of many lines
 * into one Slack message that says what it left out. In a channel limited to some vhosts (access.vhostScopes) every
 * listing asks the scope's vhost, or narrows the answer to the scope (src/chatops/vhost-scope.ts).
 */
import type { KnownBlock } from '@slack/types';
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatBytes, formatCount } from '../src/chat/human-format.js';
import { MAX_BLOCKS, MAX_SECTION_TEXT, MAX_TEXT } from '../src/chat/slack-limits.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { inScope, listingVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { ManagementApiError } from '../src/errors.js';
import { type QueueInfo, queueKey } from '../src/health/cluster-snapshot.js';
import { CONSUMER_QUEUE_COLUMNS, consumerCounts } from '../src/health/snapshot-fetcher.js';
import { consumerSchema, nodesSchema, queueSchema } from '../src/management/schemas.js';
import { globMatch } from '../src/tap/glob.js';

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 200;
/** Queue names are at most 255 bytes; a longer glob only makes the O(pattern × name) match slower. */
const MAX_PATTERN = 255;

/** `--cluster NAME`: one cluster; without it, every cluster, as `status` does. */
export const clusterFlag = z.string({ error: '--cluster needs a cluster name' }).optional();

/** `--vhost V`: one vhost; without it a listing shows every vhost, and a command about one object the cluster's own. */
export const vhostFlag = z
  .string({ error: '--vhost needs a vhost name' })
  .min(1, '--vhost needs a vhost name')
  .optional();

/** " in vhost `/nova`" for a heading, or nothing when the listing covers every vhost. */
export function vhostNote(vhost: string | undefined): string {
  return vhost === undefined ? '' : ` in vhost \`${vhost}\``;
}

/**
 * `/api/<listing>` of every vhost, or `/api/<listing>/<vhost>` of one. Undefined when the vhost does not exist
 * (404): the caller says so instead of showing an empty listing, which would read as "nothing there".
 */
export async function getInVhost<S extends z.ZodType>(
  handle: ClusterHandle,
  listing: string,
  vhost: string | undefined,
  schema: S,
  params?: Record<string, string | number>,
): Promise<z.output<S> | undefined> {
  const path = vhost === undefined ? `/api/${listing}` : `/api/${listing}/${encodeURIComponent(vhost)}`;
  try {
    return await handle.management.get(path, schema, params);
  } catch (error) {
    if (vhost !== undefined && error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
}

/** `--limit N`: how many lines a listing shows, 1 to MAX_LIMIT. A bare `--limit` is refused, not read as 1. */
export const limitFlag = z
  .string({ error: '--limit needs a number' })
  .regex(/^\d+$/, '--limit takes a whole number')
  .transform(Number)
  .pipe(z.number().min(1, '--limit is at least 1').max(MAX_LIMIT, `--limit is at most ${MAX_LIMIT}`))
  .default(DEFAULT_LIMIT);

/** The error of a flags object for flags it does not know, naming them; other issues keep their own message. */
export function unknownFlags(known: string) {
  return (issue: z.core.$ZodRawIssue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown flag ${issue.keys.map((k) => `--${k}`).join(', ')} (${known})`
      : undefined;
}

/** One cluster's part of a listing: a heading, then one line per item. */
export interface ListingPart {
  heading: string;
  lines: string[];
}

// Kept free under Slack's limits for the note on what was left out.
const LISTING_BLOCKS = MAX_BLOCKS - 1;
const LISTING_TEXT = MAX_TEXT - 200;

function section(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function clip(line: string): string {
  return line.length <= MAX_SECTION_TEXT ? line : `${line.slice(0, MAX_SECTION_TEXT - 1)}…`;
}

/**
 * Packs the lines of every part into as few sections as Slack allows (3,000 characters each), and stops before the
 * message would pass 50 blocks or 40,000 characters, saying how many lines it left out rather than letting the
 * front end cut a line in half.
 */
export function listingReply(parts: readonly ListingPart[]): ChatReply {
  const blocks: KnownBlock[] = [];
  const text: string[] = [];
  let length = 0;
  let omitted = 0;
  const fits = (more: number, newBlocks: number) =>
    length + more <= LISTING_TEXT && blocks.length + newBlocks <= LISTING_BLOCKS;
  for (const [index, part] of parts.entries()) {
    const heading = clip(part.heading);
    const opening = index > 0 ? 2 : 1;
    if (omitted > 0 || !fits(heading.length + 2, opening)) {
      omitted += part.lines.length;
      continue;
    }
    if (index > 0) blocks.push({ type: 'divider' });
    blocks.push(section(heading));
    text.push(index > 0 ? `\n${heading}` : heading);
    length += heading.length + 2;
    let current: string[] = [];
    let currentLength = 0;
    const flush = () => {
      if (current.length > 0) blocks.push(section(current.join('\n')));
      current = [];
      currentLength = 0;
    };
    for (const raw of part.lines) {
      const line = clip(raw);
      const opensSection = current.length === 0 || currentLength + 1 + line.length > MAX_SECTION_TEXT;
      // A new section needs its own block; the current one is not yet in `blocks`.
      if (omitted > 0 || !fits(line.length + 1, (current.length > 0 ? 1 : 0) + (opensSection ? 1 : 0))) {
        omitted++;
        continue;
      }
      if (opensSection) flush();
      current.push(line);
      currentLength += (current.length > 1 ? 1 : 0) + line.length;
      text.push(line);
      length += line.length + 1;
    }
    flush();
  }
  if (omitted > 0) {
    const note = `${formatCount(omitted)} more line(s) left out: too long for one Slack message`;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: note }] });
    text.push(note);
  }
  return ephemeral(text.join('\n'), blocks);
}

/**
 * A listing of every cluster `cluster` selects (all without `--cluster`), each cluster's part asked at once, in one
 * reply; an unknown cluster throws UnknownClusterError, which the router answers with the usage line.
 */
export async function listingOfClusters(
  context: CommandContext,
  cluster: string | undefined,
  part: (handle: ClusterHandle) => Promise<ListingPart>,
): Promise<ChatReply> {
  const handles = context.clusters.select(cluster);
  if (handles.length === 0) return ephemeral('No clusters are configured.');
  return listingReply(await Promise.all(handles.map(part)));
}

/** "20 shown, 1,214 left out (`--limit` up to 200)", or nothing when every item is shown. */
export function truncationNote(shown: number, total: number): string {
  if (shown >= total) return '';
  const more = shown < MAX_LIMIT ? ` (\`--limit\` up to ${MAX_LIMIT})` : '';
  return `; ${formatCount(shown)} shown, ${formatCount(total - shown)} left out${more}`;
}

export type QueueSort = 'messages' | 'consumers' | 'name';

export interface QueuesArgs {
  sort: QueueSort;
  limit: number;
  pattern: string | undefined;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** Only what a line shows: the stats listing would make the broker compute rates for every queue. */
const LISTING_COLUMNS =
  'name,vhost,node,type,state,arguments,messages,messages_ready,messages_unacknowledged,members,online,leader';

/** What a stream's own stats answer tells that the cheap listing does not. */
const STREAM_COLUMNS = 'name,vhost,type,node,members,online,leader,messages,message_bytes,segments';

/** Streams asked at once: an OpenStack cluster has one per fanout topic, a few dozen. */
const STREAM_CONCURRENCY = 4;

const streamStatsSchema = queueSchema.extend({
  message_bytes: z.number().nonnegative().nullish(),
  segments: z.number().nonnegative().nullish(),
});

/** What a stream keeps for its readers: its size, never a backlog. Bytes and segments only when the broker tells. */
export interface StreamRetention {
  messages: number;
  bytes?: number;
  segments?: number;
}

export interface ListedQueue extends QueueInfo {
  /** Streams only: what it retains, or null when its stats could not be read. */
  retained?: StreamRetention | null;
}

/** The queues of a cluster, with the number of its nodes (undefined when /api/nodes did not answer). */
export interface QueueListing {
  queues: ListedQueue[];
  clusterNodes: number | undefined;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: QueueInfo, b: QueueInfo) => byText(a.name, b.name) || byText(a.vhost, b.vhost);
/** A stream's retained messages count as its size: they take disk, though nobody has to consume them. */
const sizeOf = (q: ListedQueue) => (q.type === 'stream' ? (q.retained?.messages ?? 0) : q.messages);

const QUEUE_ORDER: Record<QueueSort, (a: ListedQueue, b: ListedQueue) => number> = {
  messages: (a, b) => sizeOf(b) - sizeOf(a) || byName(a, b),
  consumers: (a, b) => b.consumers - a.consumers || byName(a, b),
  name: byName,
};

/** A stream's retained size and replicas from its own stats answer; null when that cannot be read. */
async function streamStats(handle: ClusterHandle, queue: QueueInfo) {
  try {
    // RabbitMQ 4.0.5 can repeat members and messages in this answer (repeated-keys-json.ts); a listing shows the
    // first, and leaves settling it to the stream-replicas check, which can ask the broker
    const answer = await handle.management.get(
      `/api/queues/${encodeURIComponent(queue.vhost)}/${encodeURIComponent(queue.name)}`,
      z.object({ value: streamStatsSchema }),
      { columns: STREAM_COLUMNS },
      { repeatedKeys: true },
    );
    return answer.value;
  } catch (error) {
    // Deleted since the listing, or its stats unreadable: this stream's size is unknown, the listing stands.
    if (error instanceof ManagementApiError || error instanceof z.ZodError) return null;
    throw error;
  }
}

/**
 * The retained size of each stream whose name matches `pattern` (streams it excludes are not asked), and its
 * replicas as the stats answer has them (the cheap listing lacks them).
 */
async function withStreamStats(handle: ClusterHandle, queues: ListedQueue[], pattern?: string): Promise<void> {
  const streams = queues.filter((q) => q.type === 'stream' && (pattern === undefined || globMatch(pattern, q.name)));
  for (let i = 0; i < streams.length; i += STREAM_CONCURRENCY) {
    await Promise.all(
      streams.slice(i, i + STREAM_CONCURRENCY).map(async (q) => {
        const stats = await streamStats(handle, q);
        if (!stats) {
          q.retained = null;
          return;
        }
        q.retained = {
          messages: stats.messages,
          ...(typeof stats.message_bytes === 'number' ? { bytes: stats.message_bytes } : {}),
          ...(typeof stats.segments === 'number' ? { segments: stats.segments } : {}),
        };
        q.members = stats.members ?? q.members;
        q.online = stats.online ?? q.online;
        q.leader = stats.leader ?? q.leader;
        q.node = stats.node ?? q.node;
      }),
    );
  }
}

/** The queues of a cluster, or of one vhost of it; undefined when that vhost does not exist. */
export async function fetchQueues(
  handle: ClusterHandle,
  pattern?: string,
  vhost?: string,
): Promise<QueueListing | undefined> {
  const [consumers, queues, nodes] = await Promise.all([
    getInVhost(handle, 'consumers', vhost, z.array(consumerSchema), { columns: CONSUMER_QUEUE_COLUMNS }),
    getInVhost(handle, 'queues', vhost, z.array(queueSchema), {
      disable_stats: 'true',
      enable_queue_totals: 'true',
      columns: LISTING_COLUMNS,
    }),
    // Only to judge replication; the listing stands without it.
    handle.management.get('/api/nodes', nodesSchema, { columns: 'name,running' }).catch(() => undefined),
  ]);
  if (!queues || !consumers) return undefined;
  const counts = consumerCounts(consumers);
  const listed: ListedQueue[] = queues.map((q) => ({ ...q, consumers: counts.get(queueKey(q)) ?? 0 }));
  await withStreamStats(handle, listed, pattern);
  return { queues: listed, clusterNodes: nodes?.length };
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** The replica count a quorum queue or stream aims for: every node, or fewer when its declaration asked so. */
function targetReplicas(queue: Pick<QueueInfo, 'type' | 'arguments'>, clusterNodes: number): number {
  const asked = queue.arguments[queue.type === 'stream' ? 'x-initial-cluster-size' : 'x-quorum-initial-group-size'];
  return typeof asked === 'number' && asked > 0 ? Math.min(asked, clusterNodes) : clusterNodes;
}

/**
 * "3/3 online, leader `rabbit2@host`" for a quorum queue or stream, and visibly under-replicated when a member is
 * offline or it has fewer members than the cluster has nodes (or than it asked for). Undefined for other types, and
 * when the answer lists no members (3.10's cheap listing of a queue whose leader is down).
 */
export function replicaText(
  queue: Pick<QueueInfo, 'type' | 'arguments' | 'members' | 'online' | 'leader'>,
  clusterNodes?: number,
): string | undefined {
  if (queue.type !== 'quorum' && queue.type !== 'stream') return undefined;
  const members = [...(queue.members ?? [])].sort();
  if (members.length === 0) return undefined;
  const online = members.filter((m) => queue.online?.includes(m));
  const offline = members.filter((m) => !online.includes(m));
  const target = clusterNodes === undefined ? undefined : targetReplicas(queue, clusterNodes);
  const problems: string[] = [];
  if (offline.length > 0) problems.push(`offline ${code(offline)}`);
  if (target !== undefined && members.length < target) {
    problems.push(`${formatCount(members.length)} member${members.length === 1 ? '' : 's'} for ${target} nodes`);
  }
  const counts = `${formatCount(online.length)}/${formatCount(members.length)} online`;
  const leader = queue.leader ? `leader \`${queue.leader}\`` : '*no leader*';
  return problems.length > 0
    ? `*under-replicated: ${counts}, ${problems.join(', ')}*, ${leader}`
    : `${counts}, ${leader}`;
}

/** What a queue holds: its backlog (ready, unacked), or for a stream what it retains for its readers. */
export function depthText(
  queue: Pick<ListedQueue, 'type' | 'messages_ready' | 'messages_unacknowledged' | 'retained'>,
): string {
  if (queue.type !== 'stream') {
    return `${formatCount(queue.messages_ready)} ready, ${formatCount(queue.messages_unacknowledged)} unacked`;
  }
  const retained = queue.retained;
  if (!retained) return 'retained size unknown';
  const bytes = retained.bytes !== undefined ? ` (${formatBytes(retained.bytes)})` : '';
  const segments =
    retained.segments !== undefined
      ? ` in ${formatCount(retained.segments)} segment${retained.segments === 1 ? '' : 's'}`
      : '';
  return `${formatCount(retained.messages)} messages${bytes} retained${segments} (not a backlog)`;
}

export function queueLine(queue: ListedQueue, clusterNodes?: number): string {
  const vhost = queue.vhost === '/' ? '' : ` (vhost \`${queue.vhost}\`)`;
  const replicas = replicaText(queue, clusterNodes);
  const parts = [
    `\`${queue.name}\`${vhost}`,
    queue.type,
    depthText(queue),
    `${formatCount(queue.consumers)} consumer${queue.consumers === 1 ? '' : 's'}`,
  ];
  // A replicated queue's node is its leader, named with the replicas.
  if (replicas) parts.push(replicas);
  else if (queue.node) parts.push(`\`${queue.node}\``);
  if (queue.state && queue.state !== 'running') parts.push(`*${queue.state}*`);
  return parts.join(' · ');
}

export function queuesListing(cluster: string, listing: QueueListing | undefined, args: QueuesArgs): ListingPart {
  const { pattern } = args;
  const title = `*Queues on \`${cluster}\`*${vhostNote(args.vhost)}`;
  if (!listing) return { heading: `${title}: no such vhost`, lines: [] };
  const { queues, clusterNodes } = listing;
  const matching = pattern === undefined ? [...queues] : queues.filter((q) => globMatch(pattern, q.name));
  matching.sort(QUEUE_ORDER[args.sort]);
  const shown = matching.slice(0, args.limit);
  if (matching.length === 0) {
    const none =
      pattern === undefined ? 'no queues' : `no queue of ${formatCount(queues.length)} matches \`${pattern}\``;
    return { heading: `${title}: ${none}`, lines: [] };
  }
  const count =
    pattern === undefined
      ? `${formatCount(matching.length)}`
      : `${formatCount(matching.length)} of ${formatCount(queues.length)} match \`${pattern}\``;
  return {
    heading: `${title}: ${count}, by ${args.sort}${truncationNote(shown.length, matching.length)}`,
    lines: shown.map((q) => queueLine(q, clusterNodes)),
  };
}

export const queuesCommand = defineCommand<QueuesArgs>({
  name: 'queues',
  usage: '[--sort messages|consumers|name] [--limit N] [--vhost V] [--cluster NAME] [pattern]',
  summary: 'List queues, biggest backlog first; `pattern` is a glob on the name (`*`, `?`)',
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z
        .array(z.string().max(MAX_PATTERN, `a pattern is at most ${MAX_PATTERN} characters`))
        .max(1, 'queues takes at most one name pattern (quote it if it has spaces)'),
      flags: z.strictObject(
        {
          sort: z
            .enum(['messages', 'consumers', 'name'], { error: '--sort takes messages, consumers or name' })
            .default('messages'),
          limit: limitFlag,
          vhost: vhostFlag,
          cluster: clusterFlag,
        },
        { error: unknownFlags('queues takes --sort, --limit, --vhost and --cluster') },
      ),
    })
    .transform(
      (argv): QueuesArgs => ({
        sort: argv.flags.sort,
        limit: argv.flags.limit,
        pattern: argv.positionals[0],
        vhost: argv.flags.vhost,
        cluster: argv.flags.cluster,
      }),
    ),
  run(context: CommandContext, args: QueuesArgs): Promise<ChatReply> {
    const vhost = listingVhost(context.vhostScope, args.vhost);
    return listingOfClusters(context, args.cluster, async (h) => {
      const listing = await fetchQueues(h, args.pattern, vhost);
      const scoped = listing && { ...listing, queues: inScope(context.vhostScope, listing.queues) };
      return queuesListing(h.config.name, scoped, { ...args, vhost });
    });
  },
});
