/**
 * `/rabbit definitions [--cluster NAME]`: how many vhosts, users, permissions, policies, parameters, exchanges,
 * queues and bindings a cluster defines, and what was added and removed since the previous `definitions` on it. Not
 * the export itself: it holds password hashes and parameter values (a shovel's URI with its password), so only
 * names are read out of it, and only names are kept (in Redis, DefinitionsStore) and shown, a few per kind.
 * The export needs the `administrator` tag, so it is read with the remediation user.
 */
import { z } from 'zod';
import type { ChatReply } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import type { DefinitionsStore, DefinitionsSummary } from '../src/cluster/definitions-store.js';
import { ErrorCode, isCodedError } from '../src/errors.js';
import { parseListing } from '../src/management/listing.js';
import { clusterFlag, type ListingPart, listingOfClusters, unknownFlags } from './queues.js';

/** Names shown per kind and direction; the rest are counted. */
export const MAX_NAMES = 10;

const s = z.string();
/** Each kind of the export, and the name an item of it goes by: what identifies it, nothing it holds. */
const KINDS = {
  vhosts: { item: z.looseObject({ name: s }), name: (i: { name: string }) => i.name },
  users: { item: z.looseObject({ name: s }), name: (i: { name: string }) => i.name },
  permissions: {
    item: z.looseObject({ user: s, vhost: s }),
    name: (i: { user: string; vhost: string }) => `${i.user}@${i.vhost}`,
  },
  topic_permissions: {
    item: z.looseObject({ user: s, vhost: s, exchange: s }),
    name: (i: { user: string; vhost: string; exchange: string }) => `${i.user}@${i.vhost}/${i.exchange}`,
  },
  policies: {
    item: z.looseObject({ vhost: s, name: s }),
    name: (i: { vhost: string; name: string }) => `${i.vhost}/${i.name}`,
  },
  parameters: {
    item: z.looseObject({ vhost: s, component: s, name: s }),
    name: (i: { vhost: string; component: string; name: string }) => `${i.vhost}/${i.component}/${i.name}`,
  },
  global_parameters: { item: z.looseObject({ name: s }), name: (i: { name: string }) => i.name },
  exchanges: {
    item: z.looseObject({ vhost: s, name: s }),
    name: (i: { vhost: string; name: string }) => `${i.vhost}/${i.name}`,
  },
  queues: {
    item: z.looseObject({ vhost: s, name: s }),
    name: (i: { vhost: string; name: string }) => `${i.vhost}/${i.name}`,
  },
  bindings: {
    item: z.looseObject({ vhost: s, source: s, destination: s, destination_type: s, routing_key: s.default('') }),
    name: (i: { vhost: string; source: string; destination: string; destination_type: string; routing_key: string }) =>
      `${i.vhost}/${i.source || '(default)'} → ${i.destination_type} ${i.destination} [${i.routing_key}]`,
  },
} as const;
type Kind = keyof typeof KINDS;
const KIND_NAMES = Object.keys(KINDS) as Kind[];

export interface DefinitionsArgs {
  cluster: string | undefined;
}

/** The names of every kind in an export, and how many items of each could not be read (and are left out). */
export function summarise(exported: unknown, at: number): { summary: DefinitionsSummary; unreadable: number } {
  const body = (typeof exported === 'object' && exported !== null ? exported : {}) as Record<string, unknown>;
  let unreadable = 0;
  const names: Record<string, string[]> = {};
  for (const kind of KIND_NAMES) {
    const { item, name } = KINDS[kind];
    const items = parseListing(`/api/definitions/${kind}`, item, body[kind] ?? [], () => unreadable++) ?? [];
    names[kind] = [...new Set(items.map((i) => (name as (i: unknown) => string)(i)))].sort();
  }
  return { summary: { at, names }, unreadable };
}

/** What is in `now` and not in `before` (added), and the other way round (removed), per kind. */
export function diff(
  before: DefinitionsSummary,
  now: DefinitionsSummary,
): Record<string, { added: string[]; removed: string[] }> {
  const changes: Record<string, { added: string[]; removed: string[] }> = {};
  for (const kind of KIND_NAMES) {
    const old = new Set(before.names[kind] ?? []);
    const current = new Set(now.names[kind] ?? []);
    const added = [...current].filter((n) => !old.has(n));
    const removed = [...old].filter((n) => !current.has(n));
    if (added.length > 0 || removed.length > 0) changes[kind] = { added, removed };
  }
  return changes;
}

function namesText(names: readonly string[]): string {
  const shown = names.slice(0, MAX_NAMES).map((n) => `\`${n}\``);
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${formatCount(more)} more` : shown.join(', ');
}

export function definitionsListing(
  cluster: string,
  now: DefinitionsSummary,
  before: DefinitionsSummary | undefined,
  unreadable: number,
): ListingPart {
  const counts = KIND_NAMES.map((k) => `${formatCount(now.names[k]?.length ?? 0)} ${k.replace('_', ' ')}`).join(' · ');
  const left = unreadable > 0 ? ` · ${formatCount(unreadable)} unreadable item(s) left out` : '';
  const heading = `*Definitions of \`${cluster}\`*: ${counts}${left}`;
  if (!before)
    return {
      heading,
      lines: ['No previous `definitions` of this cluster to compare with: this one is kept for the next.'],
    };
  const since = new Date(before.at).toISOString().replace(/\.\d+Z$/, 'Z');
  const changes = diff(before, now);
  const lines = Object.entries(changes).flatMap(([kind, { added, removed }]) => [
    ...(added.length > 0
      ? [`*${kind.replace('_', ' ')}* added (${formatCount(added.length)}): ${namesText(added)}`]
      : []),
    ...(removed.length > 0
      ? [`*${kind.replace('_', ' ')}* removed (${formatCount(removed.length)}): ${namesText(removed)}`]
      : []),
  ]);
  return { heading, lines: [lines.length > 0 ? `Since ${since}:` : `No change since ${since}.`, ...lines] };
}

async function definitionsOf(handle: ClusterHandle, store: DefinitionsStore | undefined): Promise<ListingPart> {
  const cluster = handle.config.name;
  let exported: unknown;
  try {
    exported = await handle.management.readAsRemediation('GET', '/api/definitions', z.unknown());
  } catch (error) {
    if (isCodedError(error) && error.code === ErrorCode.RemediationCredentialsError) {
      return {
        heading: `*Definitions of \`${cluster}\`*: not readable`,
        lines: ['The export needs the `administrator` tag, which only the remediation user has; none is configured.'],
      };
    }
    throw error;
  }
  const { summary, unreadable } = summarise(exported, Date.now());
  const before = await store?.previous(cluster);
  await store?.save(cluster, summary);
  const part = definitionsListing(cluster, summary, before, unreadable);
  return store ? part : { ...part, lines: ['Redis is not available: no comparison with the previous export.'] };
}

export const definitionsCommand = defineCommand<DefinitionsArgs>({
  name: 'definitions',
  usage: '[--cluster NAME]',
  summary: 'Count what a cluster defines and list what was added or removed since the last time (names only)',
  access: 'read',
  args: z
    .object({
      positionals: z.array(z.string()).max(0, 'definitions takes no arguments; name a cluster with --cluster'),
      flags: z.strictObject({ cluster: clusterFlag }, { error: unknownFlags('definitions takes --cluster') }),
    })
    .transform((argv): DefinitionsArgs => ({ cluster: argv.flags.cluster })),
  run(context: CommandContext, args: DefinitionsArgs): Promise<ChatReply> {
    return listingOfClusters(context, args.cluster, (h) => definitionsOf(h, context.definitions));
  },
});
