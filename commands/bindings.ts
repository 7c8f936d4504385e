/**
 * `/rabbit bindings NAME [--queue|--exchange] [--limit N] [--vhost V] [--cluster NAME]`: what routes into a queue, or
 * where an exchange routes to (and what routes into it). The runbook's "why does this queue not get the casts"
 * question: a fanout queue whose binding to `<topic>_fanout` is gone never sees a cast.
 *
 * oslo.messaging gives a reply queue and its direct exchange the same name (`reply_…`), so a name can be both a
 * queue and an exchange. Then both are shown, each under its own heading, and the first says so: that is what an
 * operator asking about a name wants, and `--queue` or `--exchange` narrows it to one.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { objectVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { ManagementApiError } from '../src/errors.js';
import {
  clusterFlag,
  type ListingPart,
  limitFlag,
  listingReply,
  truncationNote,
  unknownFlags,
  vhostFlag,
} from './queues.js';

export const bindingSchema = z.looseObject({
  source: z.string(),
  vhost: z.string(),
  destination: z.string(),
  destination_type: z.enum(['queue', 'exchange']),
  routing_key: z.string().default(''),
  arguments: z.record(z.string(), z.unknown()).default({}),
});
export type ManagementBinding = z.infer<typeof bindingSchema>;

export type BindingsOf = 'queue' | 'exchange';

export interface BindingsArgs {
  name: string;
  /** Only the queue or only the exchange of that name; undefined: whichever exist. */
  only: BindingsOf | undefined;
  limit: number;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** What a name's bindings are, by what it names; a kind is absent when no such object exists. */
export interface NamedBindings {
  queue?: ManagementBinding[];
  exchange?: { outgoing: ManagementBinding[]; incoming: ManagementBinding[] };
}

const bindingsSchema = z.array(bindingSchema);
const namedSchema = z.looseObject({ name: z.string() });

/** Whether the queue or exchange at `path` exists: the bindings endpoints answer `[]` for one that does not. */
async function exists(handle: ClusterHandle, path: string): Promise<boolean> {
  try {
    await handle.management.get(path, namedSchema, { columns: 'name' });
    return true;
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return false;
    throw error;
  }
}

export async function fetchBindings(
  handle: ClusterHandle,
  vhost: string,
  name: string,
  only: BindingsOf | undefined,
): Promise<NamedBindings> {
  const queuePath = `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
  const exchangePath = `/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
  // The default exchange ('') cannot be asked by name: every queue is bound to it, implicitly.
  const [isQueue, isExchange] = await Promise.all([
    only === 'exchange' ? false : exists(handle, queuePath),
    only === 'queue' || name === '' ? false : exists(handle, exchangePath),
  ]);
  const [queue, outgoing, incoming] = await Promise.all([
    isQueue ? handle.management.get(`${queuePath}/bindings`, bindingsSchema) : undefined,
    isExchange ? handle.management.get(`${exchangePath}/bindings/source`, bindingsSchema) : undefined,
    isExchange ? handle.management.get(`${exchangePath}/bindings/destination`, bindingsSchema) : undefined,
  ]);
  return {
    ...(queue ? { queue } : {}),
    ...(outgoing ? { exchange: { outgoing, incoming: incoming ?? [] } } : {}),
  };
}

function argumentsText(binding: ManagementBinding): string | undefined {
  const entries = Object.entries(binding.arguments);
  return entries.length === 0 ? undefined : `arguments \`${JSON.stringify(binding.arguments)}\``;
}

const keyText = (binding: ManagementBinding) =>
  binding.routing_key === '' ? 'no routing key' : `key \`${binding.routing_key}\``;

/** A binding into a queue, seen from the queue: where its messages come from. */
export function queueBindingLine(binding: ManagementBinding): string {
  if (binding.source === '') return `from _the default exchange_ · ${keyText(binding)} (implicit: every queue has it)`;
  return [`from exchange \`${binding.source}\``, keyText(binding), argumentsText(binding)].filter(Boolean).join(' · ');
}

/** A binding of an exchange: to a queue or exchange (`outgoing`), or from another exchange into it. */
export function exchangeBindingLine(binding: ManagementBinding, direction: 'outgoing' | 'incoming'): string {
  const other =
    direction === 'outgoing'
      ? `to ${binding.destination_type} \`${binding.destination}\``
      : `from exchange \`${binding.source}\``;
  return [other, keyText(binding), argumentsText(binding)].filter(Boolean).join(' · ');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const byRoute = (a: ManagementBinding, b: ManagementBinding) =>
  byText(a.source, b.source) || byText(a.destination, b.destination) || byText(a.routing_key, b.routing_key);

function part(heading: string, lines: string[], limit: number): ListingPart {
  const shown = lines.slice(0, limit);
  return { heading: `${heading}${truncationNote(shown.length, lines.length)}`, lines: shown };
}

/** One part per kind of object the name is; the first says when the name is both. */
export function bindingsListing(
  cluster: string,
  vhost: string,
  name: string,
  found: NamedBindings,
  limit: number,
): ListingPart[] {
  const where = `(vhost \`${vhost}\`) on \`${cluster}\``;
  const both =
    found.queue && found.exchange
      ? ` · \`${name}\` is both a queue and an exchange: both shown, \`--queue\` or \`--exchange\` for one`
      : '';
  const parts: ListingPart[] = [];
  if (found.queue) {
    const lines = [...found.queue].sort(byRoute).map(queueBindingLine);
    parts.push(
      part(
        `*Bindings of queue \`${name}\`* ${where}: ${formatCount(lines.length)} routing into it${both}`,
        lines,
        limit,
      ),
    );
  }
  if (found.exchange) {
    const { outgoing, incoming } = found.exchange;
    const lines = [
      ...[...outgoing].sort(byRoute).map((b) => exchangeBindingLine(b, 'outgoing')),
      ...[...incoming].sort(byRoute).map((b) => exchangeBindingLine(b, 'incoming')),
    ];
    const counts = `${formatCount(outgoing.length)} out, ${formatCount(incoming.length)} in from other exchanges`;
    parts.push(part(`*Bindings of exchange \`${name}\`* ${where}: ${counts}${found.queue ? '' : both}`, lines, limit));
  }
  return parts;
}

export const bindingsCommand = defineCommand<BindingsArgs>({
  name: 'bindings',
  usage: '<queue-or-exchange> [--queue|--exchange] [--limit N] [--vhost V] [--cluster NAME]',
  summary: 'What routes into a queue, or where an exchange routes to; a name that is both shows both',
  access: 'read',
  vhosts: 'scoped',
  booleanFlags: ['queue', 'exchange'],
  args: z
    .object({
      positionals: z
        .array(z.string())
        .length(1, 'bindings takes one queue or exchange name (quote it if it has spaces)'),
      flags: z
        .strictObject(
          {
            queue: z.literal(true, { error: '--queue takes no value' }).optional(),
            exchange: z.literal(true, { error: '--exchange takes no value' }).optional(),
            limit: limitFlag,
            vhost: vhostFlag,
            cluster: clusterFlag,
          },
          { error: unknownFlags('bindings takes --queue, --exchange, --limit, --vhost and --cluster') },
        )
        .refine((f) => !(f.queue && f.exchange), '--queue and --exchange exclude each other'),
    })
    .transform(
      (argv): BindingsArgs => ({
        name: argv.positionals[0] as string,
        only: argv.flags.queue ? 'queue' : argv.flags.exchange ? 'exchange' : undefined,
        limit: argv.flags.limit,
        vhost: argv.flags.vhost,
        cluster: argv.flags.cluster,
      }),
    ),
  async run(context: CommandContext, args: BindingsArgs): Promise<ChatReply> {
    const handles = context.clusters.select(args.cluster);
    if (handles.length === 0) return ephemeral('No clusters are configured.');
    // Without --vhost, each cluster's own vhost (clusters[].vhost), as `consumers` does.
    const lookups = await Promise.all(
      handles.map(async (h) => {
        const vhost = objectVhost(context.vhostScope, args.vhost, h.config.vhost);
        return { cluster: h.config.name, vhost, found: await fetchBindings(h, vhost, args.name, args.only) };
      }),
    );
    const parts = lookups.flatMap(({ cluster, vhost, found }) =>
      bindingsListing(cluster, vhost, args.name, found, args.limit),
    );
    if (parts.length === 0) {
      const what = args.only ?? 'queue or exchange';
      const places = lookups.map((l) => `vhost \`${l.vhost}\` of \`${l.cluster}\``).join(', ');
      return ephemeral(
        `No ${what} \`${args.name}\` in ${places}. ` +
          `\`${context.slashCommand} queues PATTERN\` and \`${context.slashCommand} exchanges PATTERN\` find names by a glob.`,
      );
    }
    return listingReply(parts);
  },
});
