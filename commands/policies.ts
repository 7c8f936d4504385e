/**
 * `/rabbit policies [--vhost V] [--cluster NAME]`: the policies of a cluster (or of one vhost) (mirroring, expiry, length limits…) and how many
 * queues each one governs now. A queue takes only the highest-priority policy that matches it, so a policy may match
 * queues and still govern none (shadowed), or match none (mistyped pattern): `rabbitmqctl list_policies` shows
 * neither, the count shows both. On RabbitMQ 4.0 and later a policy's `ha-*` keys are marked as having no effect:
 * classic mirroring is gone there, and a policy that only mirrors protects nothing.
 */
import { z } from 'zod';
import type { ChatReply } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { inScope, listingVhost, type VhostScope } from '../src/chatops/vhost-scope.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { queueKey } from '../src/health/cluster-snapshot.js';
import { type BrokerVersion, clusterBrokerVersion, hasClassicMirroring } from '../src/management/broker-version.js';
import { type ManagementPolicy, nodesSchema, policySchema, queueSchema } from '../src/management/schemas.js';
import {
  clusterFlag,
  getInVhost,
  type ListingPart,
  listingOfClusters,
  unknownFlags,
  vhostFlag,
  vhostNote,
} from './queues.js';

export interface PoliciesArgs {
  vhost: string | undefined;
  cluster: string | undefined;
}

export interface PolicyView {
  policies: ManagementPolicy[];
  /** Queues per effective policy, by `queueKey({ vhost, name: policy })`. */
  queuesPerPolicy: Map<string, number>;
  /** Queues that no policy governs. */
  unpoliced: number;
  /** The cluster's version (its oldest node's), when /api/nodes told it. */
  version?: BrokerVersion;
}

/** A long value (a node list, say) is cut: the line is for recognising a policy, not for copying it. */
const MAX_VALUE = 60;

const policyQueueSchema = queueSchema.pick({ name: true, vhost: true, policy: true });

/** The policies of a cluster, or of one vhost; undefined when that vhost does not exist. */
export async function fetchPolicyView(
  handle: ClusterHandle,
  vhost?: string,
  scope?: VhostScope,
): Promise<PolicyView | undefined> {
  const [policies, queues, nodes] = await Promise.all([
    getInVhost(handle, 'policies', vhost, z.array(policySchema)),
    // The cheap listing: only the effective policy of each queue is needed, not its statistics.
    getInVhost(handle, 'queues', vhost, z.array(policyQueueSchema), {
      disable_stats: 'true',
      enable_queue_totals: 'true',
      columns: 'name,vhost,policy',
    }),
    // Only to tell which keys still mean something; the listing stands without it.
    handle.management.get('/api/nodes', nodesSchema, { columns: 'name,running,applications' }).catch(() => undefined),
  ]);
  if (!policies || !queues) return undefined;
  return policyView(inScope(scope, policies), inScope(scope, queues), nodes);
}

/** Each policy with the queues it governs, of the vhosts asked (and kept to the channel's scope). */
function policyView(
  policies: ManagementPolicy[],
  queues: ReadonlyArray<z.output<typeof policyQueueSchema>>,
  nodes: z.output<typeof nodesSchema> | undefined,
): PolicyView {
  const version = clusterBrokerVersion((nodes ?? []).filter((n) => n.running));
  const queuesPerPolicy = new Map<string, number>();
  let unpoliced = 0;
  for (const q of queues) {
    if (!q.policy) {
      unpoliced++;
      continue;
    }
    const key = queueKey({ vhost: q.vhost, name: q.policy });
    queuesPerPolicy.set(key, (queuesPerPolicy.get(key) ?? 0) + 1);
  }
  return { policies, queuesPerPolicy, unpoliced, ...(version ? { version } : {}) };
}

function valueText(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** "*ha-mode, ha-sync-mode: no effect on RabbitMQ 4.0.5 (classic mirroring removed)*", or nothing. */
export function noEffectText(policy: ManagementPolicy, version: BrokerVersion | undefined): string | undefined {
  if (!version || hasClassicMirroring(version)) return undefined;
  const keys = Object.keys(policy.definition).filter((k) => k.startsWith('ha-'));
  if (keys.length === 0) return undefined;
  return `*${keys.join(', ')}: no effect on RabbitMQ ${version.raw} (classic mirroring removed in 4.0)*`;
}

export function policyLine(policy: ManagementPolicy, queues: number, version?: BrokerVersion): string {
  const definition = Object.entries(policy.definition)
    .map(([key, value]) => `${key}=${valueText(value)}`)
    .join(', ');
  const governs =
    policy['apply-to'] === 'exchanges' ? 'exchanges only' : `*${formatCount(queues)} queue${queues === 1 ? '' : 's'}*`;
  return [
    `\`${policy.name}\` (vhost \`${policy.vhost}\`)`,
    `pattern \`${policy.pattern}\``,
    `applies to ${policy['apply-to']}`,
    `priority ${policy.priority}`,
    definition ? `\`${definition}\`` : 'empty definition',
    governs,
    noEffectText(policy, version),
  ]
    .filter(Boolean)
    .join(' · ');
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function policiesListing(cluster: string, view: PolicyView | undefined, vhost?: string): ListingPart {
  const title = `*Policies of \`${cluster}\`*${vhostNote(vhost)}`;
  if (!view) return { heading: `${title}: no such vhost`, lines: [] };
  const unpoliced = `${formatCount(view.unpoliced)} queue${view.unpoliced === 1 ? '' : 's'} without a policy`;
  if (view.policies.length === 0) return { heading: `${title}: none · ${unpoliced}`, lines: [] };
  // Within a vhost, the policy that wins when several match a queue comes first.
  const sorted = [...view.policies].sort(
    (a, b) => byText(a.vhost, b.vhost) || b.priority - a.priority || byText(a.name, b.name),
  );
  return {
    heading: `${title}: ${formatCount(sorted.length)} · ${unpoliced}`,
    lines: sorted.map((p) => policyLine(p, view.queuesPerPolicy.get(queueKey(p)) ?? 0, view.version)),
  };
}

export const policiesCommand = defineCommand<PoliciesArgs>({
  name: 'policies',
  usage: '[--vhost V] [--cluster NAME]',
  summary: 'List policies and how many queues each one governs now',
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z.array(z.string()).max(0, 'policies takes no arguments; name a cluster with --cluster'),
      flags: z.strictObject(
        { vhost: vhostFlag, cluster: clusterFlag },
        { error: unknownFlags('policies takes --vhost and --cluster') },
      ),
    })
    .transform((argv): PoliciesArgs => ({ vhost: argv.flags.vhost, cluster: argv.flags.cluster })),
  run(context: CommandContext, args: PoliciesArgs): Promise<ChatReply> {
    const vhost = listingVhost(context.vhostScope, args.vhost);
    return listingOfClusters(context, args.cluster, async (h) =>
      policiesListing(h.config.name, await fetchPolicyView(h, vhost, context.vhostScope), vhost),
    );
  },
});
