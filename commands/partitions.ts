/**
 * `/rabbit partitions [--cluster NAME]`: per node, whether it runs, which nodes it cannot reach, and how many client
 * connections it holds — what the runbook (1.4) asks for to choose the side to keep. When a partition exists it
 * adds the network-partition check's own finding (the sides and the side the autoheal rule would keep), so the
 * command and the alert never disagree. It names the cluster's metadata store: on Mnesia (before 4.2, unless the
 * khepri_db flag is on) each side runs on and diverges; on Khepri (Raft) the side holding a majority of the nodes keeps
 * the metadata, so autoheal's rule does not apply. It judges nothing itself and restarts nothing.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import { thresholdsSchema } from '../src/config/health-schema.js';
import { networkPartitionCheck, type PartitionData } from '../src/health/checks/network-partition.js';
import type { ConnectionInfo } from '../src/health/cluster-snapshot.js';
import {
  clusterBrokerVersion,
  type MetadataStore,
  metadataStore,
  partitionMeaning,
} from '../src/management/broker-version.js';
import { connectionSchema, type ManagementNode } from '../src/management/schemas.js';
import { khepriFlagState } from '../src/remediation/broker-state.js';
import { clusterFlag, type ListingPart, listingReply, unknownFlags } from './queues.js';
import { metadataStoreLabel } from './status.js';

export interface PartitionsArgs {
  cluster: string | undefined;
}

export interface NodeView {
  nodes: ManagementNode[];
  connections: ConnectionInfo[];
  /** The `khepri_db` feature flag's state; undefined when the broker lists no such flag or it could not be read. */
  khepriFlag?: 'enabled' | 'disabled';
}

const connectionsSchema = z.array(connectionSchema);
// The partition check reads no thresholds; it is evaluated with the defaults.
const CHECK_CONTEXT = { thresholds: thresholdsSchema.parse({}), history: new Map() };

/** /api/nodes with stats (without them the broker drops `partitions`), and each client connection's node. */
export async function fetchNodeView(handle: ClusterHandle): Promise<NodeView> {
  const [nodes, connections, khepriFlag] = await Promise.all([
    handle.management.nodes(),
    handle.management.get('/api/connections', connectionsSchema, { columns: 'name,node' }),
    khepriFlagState(handle.management),
  ]);
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  return { nodes, connections, ...(khepriFlag ? { khepriFlag } : {}) };
}

function connectionsText(count: number): string {
  return `${formatCount(count)} client connection${count === 1 ? '' : 's'}`;
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** "not running" is the answering node's view: a node that reports a partition is alive on another side. */
function runningText(node: ManagementNode): string {
  if (node.running) return 'running';
  return node.partitions.length > 0 ? '*unreachable from the answering node*' : '*not running*';
}

export function nodePartitionLine(node: ManagementNode, connections: number): string {
  const healthy = node.running && node.partitions.length === 0;
  const parts = [
    `${healthy ? ':large_green_circle:' : ':red_circle:'} \`${node.name}\``,
    runningText(node),
    connectionsText(connections),
  ];
  if (node.partitions.length > 0) parts.push(`*cannot reach ${code(node.partitions)}*`);
  return parts.join(' · ');
}

/** On Khepri, the sides with the majority one marked: it alone keeps the metadata (queues, bindings, users). */
function raftSideLines(data: PartitionData, nodes: number): string[] {
  const lines = data.sides.map((side, i) => {
    const majority = side.nodes.length > nodes / 2 ? ' (majority: metadata writable)' : '';
    const clients = side.connections === null ? 'client connections unknown' : connectionsText(side.connections);
    return `> Side ${i + 1}${majority}: ${code(side.nodes)} — ${clients}`;
  });
  lines.push(`> ${partitionMeaning('khepri')}`);
  return lines;
}

/** The check's sides, with the side autoheal would keep marked: the nodes' own views are on their lines already. */
function sideLines(data: PartitionData, store: MetadataStore | undefined, nodes: number): string[] {
  if (store === 'khepri') return raftSideLines(data, nodes);
  const lines = data.sides.map((side, i) => {
    const keep = i === data.trustedSide && !data.tie ? ' (keep)' : '';
    const clients = side.connections === null ? 'client connections unknown' : connectionsText(side.connections);
    return `> Side ${i + 1}${keep}: ${code(side.nodes)} — ${clients}`;
  });
  lines.push(
    data.tie
      ? "> No side wins autoheal's rule (most client connections, then most nodes): choose the side clients use by hand."
      : `> Autoheal's rule (most client connections, then most nodes) keeps side ${data.trustedSide + 1}: ` +
          `restart the rabbit app on ${code(data.restart)}.`,
  );
  if (store) lines.push(`> ${partitionMeaning(store)}`);
  return lines;
}

export function partitionsListing(cluster: string, view: NodeView): ListingPart {
  const perNode = new Map<string, number>();
  for (const c of view.connections) if (c.node) perNode.set(c.node, (perNode.get(c.node) ?? 0) + 1);
  const lines = view.nodes.map((n) => nodePartitionLine(n, perNode.get(n.name) ?? 0));
  const running = view.nodes.filter((n) => n.running).length;
  const title = `*Partitions of \`${cluster}\`*`;
  const version = clusterBrokerVersion(view.nodes.filter((n) => n.running));
  const store = metadataStore(version, view.khepriFlag);
  const storeText = metadataStoreLabel(version, view.khepriFlag);
  const [finding] = networkPartitionCheck.evaluate(
    { cluster, takenAt: Date.now(), endpoints: [], nodes: view.nodes, connections: view.connections, errors: {} },
    CHECK_CONTEXT,
  );
  if (!finding) {
    return {
      heading:
        `${title}: :large_green_circle: No partitions · ${running}/${view.nodes.length} nodes running` +
        (storeText ? ` · ${storeText}` : ''),
      lines,
    };
  }
  return {
    heading: `${title}: :red_circle: ${finding.summary}${storeText ? ` · ${storeText}` : ''}`,
    lines: [...lines, ...sideLines(finding.data as PartitionData, store, view.nodes.length)],
  };
}

export const partitionsCommand = defineCommand<PartitionsArgs>({
  name: 'partitions',
  usage: '[--cluster NAME]',
  summary: 'Per node: running, the nodes it cannot reach, client connections (to choose the side to keep)',
  access: 'read',
  // Nodes, totals and names of things warren knows: nothing of any one vhost.
  vhosts: 'none',
  args: z
    .object({
      positionals: z.array(z.string()).max(0, 'partitions takes no arguments; name a cluster with --cluster'),
      flags: z.strictObject({ cluster: clusterFlag }, { error: unknownFlags('partitions takes --cluster') }),
    })
    .transform((argv): PartitionsArgs => ({ cluster: argv.flags.cluster })),
  async run(context: CommandContext, args: PartitionsArgs): Promise<ChatReply> {
    const handles = context.clusters.select(args.cluster);
    if (handles.length === 0) return ephemeral('No clusters are configured.');
    const listings = await Promise.all(
      handles.map(async (h) => partitionsListing(h.config.name, await fetchNodeView(h))),
    );
    return listingReply(listings);
  },
});
