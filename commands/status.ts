/**
 * `/rabbit status [cluster]`: what `rabbitmqctl cluster_status` tells, readable in Slack — each node with running
 * state, partitions, alarms, resource use and its RabbitMQ and Erlang versions, plus the cluster's metadata store
 * (Mnesia or Khepri), its nodes' `cluster_partition_handling` (through node control, with what the partition-handling
 * check finds of it), a version mix when there is one, and object totals.
 */
import type { KnownBlock } from '@slack/types';
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatBytes, formatCount, formatPercent, formatUptime } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { ClusterHandle } from '../src/cluster/cluster-directory.js';
import type { NodePartitionHandling } from '../src/cluster/partition-handling-reader.js';
import { partitionHandlingFindings } from '../src/health/checks/partition-handling.js';
import {
  atLeast,
  type BrokerVersion,
  clusterBrokerVersion,
  metadataStore,
  nodeBrokerVersion,
  parseBrokerVersion,
} from '../src/management/broker-version.js';
import { formatPartitionHandling, modeGroups } from '../src/management/partition-handling.js';
import { type ManagementNode, type ManagementOverview, NODE_COLUMNS, nodesSchema } from '../src/management/schemas.js';
import { khepriFlagState } from '../src/remediation/broker-state.js';

export interface ClusterStatus {
  cluster: string;
  overview: ManagementOverview;
  nodes: ManagementNode[];
  /** Each running node's Erlang version, from the /api/overview of the management URL that node serves (kept for its boot). */
  erlangByNode?: ReadonlyMap<string, string>;
  /** The `khepri_db` feature flag's state; undefined when the broker lists no such flag or the listing failed. */
  khepriFlag?: 'enabled' | 'disabled';
  /** Each running node's cluster_partition_handling, or why it was not read (no node control, CLI failure). */
  partitionHandling?: { nodes: NodePartitionHandling[] } | { error: string };
}

export function nodeProblems(node: ManagementNode): string[] {
  const problems: string[] = [];
  if (!node.running) problems.push('not running');
  if (node.partitions.length > 0) problems.push(`partitioned from ${node.partitions.join(', ')}`);
  if (node.mem_alarm) problems.push('memory alarm');
  if (node.disk_free_alarm) problems.push('disk alarm');
  return problems;
}

function usage(label: string, used: number | undefined, total: number | undefined, bytes = false): string | undefined {
  if (used === undefined || total === undefined) return undefined;
  const show = bytes ? formatBytes : formatCount;
  return `${label} ${show(used)}/${show(total)} (${formatPercent(used, total)})`;
}

export function nodeLine(node: ManagementNode, erlang?: string): string {
  const problems = nodeProblems(node);
  const version = nodeBrokerVersion(node);
  const icon = problems.length === 0 ? ':large_green_circle:' : ':red_circle:';
  const parts = [
    usage('mem', node.mem_used, node.mem_limit, true),
    usage('fd', node.fd_used, node.fd_total),
    usage('sockets', node.sockets_used, node.sockets_total),
    usage('procs', node.proc_used, node.proc_total),
    node.uptime !== undefined ? `up ${formatUptime(node.uptime)}` : undefined,
    version ? `RabbitMQ ${version.raw}` : undefined,
    erlang ? `Erlang ${erlang}` : undefined,
  ].filter(Boolean);
  const problemText = problems.length > 0 ? ` — *${problems.join(', ')}*` : '';
  return `${icon} \`${node.name}\`${problemText}\n${parts.join(' · ')}`;
}

export function summaryLine(status: ClusterStatus): string {
  const running = status.nodes.filter((n) => n.running).length;
  const partitioned = status.nodes.some((n) => n.partitions.length > 0);
  const alarms = status.nodes.filter((n) => n.mem_alarm || n.disk_free_alarm).length;
  return [
    `${running}/${status.nodes.length} nodes running`,
    partitioned ? '*network partition*' : 'no partitions',
    alarms > 0 ? `*alarms on ${alarms} node(s)*` : 'no alarms',
  ].join(', ');
}

/**
 * "RabbitMQ 4.0.5" when every node that tells runs the same version, else the mix ("*mixed versions:* RabbitMQ 3.13.7
 * on `a`; 4.0.5 on `b`, `c`"): mid-upgrade, a cluster offers only what its oldest node does.
 */
export function versionText(status: Pick<ClusterStatus, 'overview' | 'nodes'>): string | undefined {
  const nodesOf = new Map<string, string[]>();
  for (const node of status.nodes) {
    const version = nodeBrokerVersion(node);
    if (version) nodesOf.set(version.raw, [...(nodesOf.get(version.raw) ?? []), node.name]);
  }
  if (nodesOf.size > 1) {
    const mix = [...nodesOf.entries()]
      .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
      .map(([version, names]) => `${version} on ${names.map((n) => `\`${n}\``).join(', ')}`);
    return `*mixed versions:* RabbitMQ ${mix.join('; ')}`;
  }
  const only = [...nodesOf.keys()][0] ?? status.overview.rabbitmq_version;
  return only ? `RabbitMQ ${only}` : undefined;
}

/**
 * "metadata store Mnesia" or "… Khepri (Raft)": from the khepri_db flag when the broker lists it, else from the
 * cluster's version, saying so where the flag should have been there to read (3.13 and later).
 */
export function metadataStoreLabel(
  version: BrokerVersion | undefined,
  khepriFlag: 'enabled' | 'disabled' | undefined,
): string | undefined {
  const store = metadataStore(version, khepriFlag);
  if (!store) return undefined;
  const name = store === 'khepri' ? 'Khepri (Raft)' : 'Mnesia';
  const guessed = khepriFlag === undefined && version !== undefined && atLeast(version, 3, 13);
  return `metadata store ${name}${guessed ? ' (by version: the khepri_db flag could not be read)' : ''}`;
}

function statusVersion(status: ClusterStatus): BrokerVersion | undefined {
  return (
    clusterBrokerVersion(status.nodes.filter((n) => n.running)) ?? parseBrokerVersion(status.overview.rabbitmq_version)
  );
}

function metadataStoreText(status: ClusterStatus): string | undefined {
  return metadataStoreLabel(statusVersion(status), status.khepriFlag);
}

/**
 * "partition handling `pause_minority`", the modes per node when they differ, or why they were not read; then what
 * the partition-handling check finds of them, in bold. On Khepri the modes do nothing, and the line says so.
 */
export function partitionHandlingText(status: ClusterStatus): string | undefined {
  const read = status.partitionHandling;
  if (!read) return undefined;
  const store = metadataStore(statusVersion(status), status.khepriFlag);
  if (store === 'khepri') {
    const findings = partitionHandlingFindings(status.nodes.length, store, []);
    return [
      'partition handling: does not apply on Khepri (a Raft majority decides)',
      ...findings.map((f) => `*${f.summary}*`),
    ].join('\n');
  }
  if ('error' in read) return `partition handling unknown: ${read.error}`;
  const groups = modeGroups(read.nodes);
  const modes =
    groups.length === 1
      ? `partition handling \`${formatPartitionHandling((groups[0] as (typeof groups)[number]).handling)}\``
      : `partition handling ${groups.map((g) => `\`${formatPartitionHandling(g.handling)}\` on ${g.nodes.map((n) => `\`${n}\``).join(', ')}`).join('; ')}`;
  const unread = read.nodes.filter((n) => n.error !== undefined).map((n) => `\`${n.node}\``);
  const findings = partitionHandlingFindings(status.nodes.length, store, read.nodes);
  return [
    groups.length === 0 ? 'partition handling unknown' : modes,
    ...(unread.length > 0 ? [`(not read on ${unread.join(', ')})`] : []),
    ...findings.map((f) => `*${f.summary}*`),
  ].join('\n');
}

export function renderClusterStatus(status: ClusterStatus): { text: string; blocks: KnownBlock[] } {
  const { overview } = status;
  const totals = overview.object_totals;
  const queueTotals = overview.queue_totals;
  const title = `Cluster ${status.cluster}${overview.cluster_name ? ` (${overview.cluster_name})` : ''}`;
  // Per node Erlang is on the node lines; the answering node's stands for a cluster whose URLs told nothing else.
  const erlang = status.erlangByNode?.size ? undefined : overview.erlang_version;
  const versions = [versionText(status), erlang && `Erlang ${erlang}`, metadataStoreText(status)]
    .filter(Boolean)
    .join(', ');
  const handling = partitionHandlingText(status);
  const fields = totals
    ? [
        `*Queues*\n${formatCount(totals.queues)}`,
        `*Connections*\n${formatCount(totals.connections)}`,
        `*Channels*\n${formatCount(totals.channels)}`,
        `*Consumers*\n${formatCount(totals.consumers)}`,
        `*Messages*\n${formatCount(queueTotals?.messages ?? 0)} (${formatCount(queueTotals?.messages_ready ?? 0)} ready, ${formatCount(queueTotals?.messages_unacknowledged ?? 0)} unacked)`,
        `*Exchanges*\n${formatCount(totals.exchanges)}`,
      ]
    : [];
  const summary = summaryLine(status);
  const nodeLines = status.nodes.map((n) => nodeLine(n, status.erlangByNode?.get(n.name)));
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: title } },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: [summary, versions, handling].filter(Boolean).join('\n') },
    },
  ];
  if (fields.length > 0) blocks.push({ type: 'section', fields: fields.map((f) => ({ type: 'mrkdwn', text: f })) });
  blocks.push({ type: 'divider' });
  for (const line of nodeLines) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: line } });
  const text = [title, summary, versions, handling, ...nodeLines.map((l) => l.replace(/\n/g, ' — '))]
    .filter(Boolean)
    .join('\n');
  return { text, blocks };
}

/** Through the cluster's reader (shared with the sweep, so mostly a cached answer); never fails the command. */
async function readPartitionHandling(
  handle: ClusterHandle,
  nodes: readonly ManagementNode[],
): Promise<ClusterStatus['partitionHandling']> {
  if (!handle.partitionHandling) return { error: 'only node control can read it (clusters[].nodeControl is not set)' };
  try {
    return { nodes: await handle.partitionHandling.read(nodes) };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

async function fetchStatus(handle: ClusterHandle): Promise<ClusterStatus> {
  const [overview, nodes, khepriFlag] = await Promise.all([
    handle.management.overview(),
    handle.management.get('/api/nodes', nodesSchema, { columns: NODE_COLUMNS }),
    khepriFlagState(handle.management),
  ]);
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  const [erlang, partitionHandling] = await Promise.all([
    handle.erlangVersions.of(nodes),
    readPartitionHandling(handle, nodes),
  ]);
  return {
    partitionHandling,
    cluster: handle.config.name,
    overview,
    nodes,
    erlangByNode: erlang,
    ...(khepriFlag ? { khepriFlag } : {}),
  };
}

export const statusCommand = defineCommand({
  name: 'status',
  usage: '[cluster]',
  summary: 'Nodes (running, partitions, alarms, resource use), version and totals of a cluster',
  access: 'read',
  // Nodes, totals and names of things warren knows: nothing of any one vhost.
  vhosts: 'none',
  args: z
    .object({
      positionals: z.array(z.string()).max(1, 'status takes at most one cluster name'),
      flags: z.strictObject({}, { error: 'status takes no flags' }),
    })
    .transform((argv) => ({ cluster: argv.positionals[0] })),
  async run(context: CommandContext, args: { cluster: string | undefined }): Promise<ChatReply> {
    const handles = context.clusters.select(args.cluster);
    if (handles.length === 0) return ephemeral('No clusters are configured.');
    const statuses = await Promise.all(handles.map(fetchStatus));
    const rendered = statuses.map(renderClusterStatus);
    const blocks: KnownBlock[] = rendered.flatMap((r, i) => (i === 0 ? r.blocks : [{ type: 'divider' }, ...r.blocks]));
    return ephemeral(rendered.map((r) => r.text).join('\n\n'), blocks);
  },
});
