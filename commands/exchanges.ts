/**
 * `/rabbit exchanges [--limit N] [--vhost V] [--cluster NAME] [pattern]`: the exchanges of a cluster, by vhost and
 * name, each with its type and the flags that matter when oslo.messaging declares it again (durable, auto-delete,
 * internal: a mismatch makes the declare fail with 406 and the service drop what it sends). The broker's own
 * `amq.*` exchanges and the default exchange are left out unless the pattern names them: OpenStack never publishes
 * to them by name, and every vhost has eight.
 */
import { z } from 'zod';
import type { ChatReply } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { inScope, listingVhost } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { globMatch } from '../src/tap/glob.js';
import {
  clusterFlag,
  getInVhost,
  type ListingPart,
  limitFlag,
  listingOfClusters,
  truncationNote,
  unknownFlags,
  vhostFlag,
  vhostNote,
} from './queues.js';

/** Exchange names are at most 255 bytes, as are queue names. */
const MAX_PATTERN = 255;

export const exchangeSchema = z.looseObject({
  name: z.string(),
  vhost: z.string(),
  type: z.string(),
  durable: z.boolean().optional(),
  auto_delete: z.boolean().optional(),
  internal: z.boolean().optional(),
  policy: z.string().nullish(),
});
export type ManagementExchange = z.infer<typeof exchangeSchema>;

const COLUMNS = 'name,vhost,type,durable,auto_delete,internal,policy';

export interface ExchangesArgs {
  limit: number;
  pattern: string | undefined;
  vhost: string | undefined;
  cluster: string | undefined;
}

/** The default exchange (its name is empty) and the `amq.*` ones every vhost is created with. */
export function isBuiltIn(exchange: Pick<ManagementExchange, 'name'>): boolean {
  return exchange.name === '' || exchange.name.startsWith('amq.');
}

/** The exchanges of a cluster or of one vhost; undefined when that vhost does not exist. */
export function fetchExchanges(handle: ClusterHandle, vhost?: string): Promise<ManagementExchange[] | undefined> {
  return getInVhost(handle, 'exchanges', vhost, z.array(exchangeSchema), { columns: COLUMNS });
}

export function exchangeLine(exchange: ManagementExchange): string {
  const name = exchange.name === '' ? '_(default exchange)_' : `\`${exchange.name}\``;
  const vhost = exchange.vhost === '/' ? '' : ` (vhost \`${exchange.vhost}\`)`;
  const parts = [`${name}${vhost}`, exchange.type];
  if (exchange.durable !== undefined) parts.push(exchange.durable ? 'durable' : 'transient');
  if (exchange.auto_delete) parts.push('auto-delete');
  if (exchange.internal) parts.push('internal');
  if (exchange.policy) parts.push(`policy \`${exchange.policy}\``);
  return parts.join(' · ');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function exchangesListing(
  cluster: string,
  exchanges: readonly ManagementExchange[] | undefined,
  args: ExchangesArgs,
): ListingPart {
  const title = `*Exchanges on \`${cluster}\`*${vhostNote(args.vhost)}`;
  if (!exchanges) return { heading: `${title}: no such vhost`, lines: [] };
  const { pattern } = args;
  const matching = exchanges
    .filter((e) => (pattern === undefined ? !isBuiltIn(e) : globMatch(pattern, e.name)))
    .sort((a, b) => byText(a.vhost, b.vhost) || byText(a.name, b.name));
  const builtIn = pattern === undefined ? exchanges.length - matching.length : 0;
  const leftOut = builtIn > 0 ? ` (and ${formatCount(builtIn)} built-in \`amq.*\` and default exchanges)` : '';
  if (matching.length === 0) {
    const none = pattern === undefined ? 'none of its own' : `no exchange matches \`${pattern}\``;
    return { heading: `${title}: ${none}${leftOut}`, lines: [] };
  }
  const shown = matching.slice(0, args.limit);
  const count =
    pattern === undefined ? formatCount(matching.length) : `${formatCount(matching.length)} match \`${pattern}\``;
  return {
    heading: `${title}: ${count}${leftOut}, by name${truncationNote(shown.length, matching.length)}`,
    lines: shown.map(exchangeLine),
  };
}

export const exchangesCommand = defineCommand<ExchangesArgs>({
  name: 'exchanges',
  usage: '[--limit N] [--vhost V] [--cluster NAME] [pattern]',
  summary:
    'List exchanges with their type and flags; `pattern` is a glob on the name (`amq.*` shows the built-in ones)',
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z
        .array(z.string().max(MAX_PATTERN, `a pattern is at most ${MAX_PATTERN} characters`))
        .max(1, 'exchanges takes at most one name pattern (quote it if it has spaces)'),
      flags: z.strictObject(
        { limit: limitFlag, vhost: vhostFlag, cluster: clusterFlag },
        { error: unknownFlags('exchanges takes --limit, --vhost and --cluster') },
      ),
    })
    .transform(
      (argv): ExchangesArgs => ({
        limit: argv.flags.limit,
        pattern: argv.positionals[0],
        vhost: argv.flags.vhost,
        cluster: argv.flags.cluster,
      }),
    ),
  run(context: CommandContext, args: ExchangesArgs): Promise<ChatReply> {
    const vhost = listingVhost(context.vhostScope, args.vhost);
    return listingOfClusters(context, args.cluster, async (h) => {
      const exchanges = await fetchExchanges(h, vhost);
      return exchangesListing(h.config.name, exchanges && inScope(context.vhostScope, exchanges), { ...args, vhost });
    });
  },
});
