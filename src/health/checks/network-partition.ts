/**
 * Network partition (runbook 1.4): any node whose `partitions` list is non-empty. Owns the one cluster-wide
 * finding that shows the sides, the client connections on each and the side to trust by the autoheal rule, in
 * `data` too for the heal-partition workflow. It judges only; restarting nodes is that workflow's job. Nodes the
 * API calls not running while they report a partition are alive on another side, so node-down leaves them here.
 * On Mnesia it names the `cluster_partition_handling` in force (when node control read it) and what that mode will
 * do by itself, so nobody restarts nodes that autoheal is about to restart.
 */
import { formatCount } from '../../chat/human-format.js';
import {
  atLeast,
  clusterBrokerVersion,
  khepriByDefault,
  khepriFlag,
  type MetadataStore,
  metadataStore,
  partitionMeaning,
} from '../../management/broker-version.js';
import { formatPartitionHandling, modeGroups, partitionHandlingAction } from '../../management/partition-handling.js';
import type { ManagementFeatureFlag, ManagementNode } from '../../management/schemas.js';
import type { ClusterSnapshot, ConnectionInfo } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'network-partition';

export interface PartitionSide {
  nodes: string[];
  /** Client connections on the side's nodes; null when the connection listing could not be fetched. */
  connections: number | null;
}

/** What the heal-partition workflow reads from the finding's `data`. */
export interface PartitionData extends Record<string, unknown> {
  sides: PartitionSide[];
  /** Index in `sides` of the side to keep. */
  trustedSide: number;
  trusted: string[];
  /** Nodes outside the trusted side, whose rabbit app must restart. */
  restart: string[];
  /** True when the autoheal rule does not separate the best sides: the operator must choose. */
  tie: boolean;
  /** Each reporting node's own `partitions` list. */
  partitions: Record<string, string[]>;
}

const byName = (a: string, b: string) => a.localeCompare(b);
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/**
 * RabbitMQ's own grouping (rabbit_autoheal:all_partitions): start from one group of every node and, for each
 * node's view, split its group into the nodes it can see and those it cannot. Symmetric views converge on the same
 * sides whichever node answered the API, and a node that reports nothing stays with the nodes it can still see.
 */
export function partitionSides(members: readonly string[], views: ReadonlyMap<string, readonly string[]>): string[][] {
  let groups: string[][] = [[...members].sort(byName)];
  for (const [node, cannotSee] of [...views].sort(([a], [b]) => byName(a, b))) {
    const group = groups.find((g) => g.includes(node));
    if (!group) continue;
    const near = group.filter((n) => !cannotSee.includes(n));
    const far = group.filter((n) => cannotSee.includes(n));
    if (near.length > 0 && far.length > 0) groups = [...groups.filter((g) => g !== group), near, far];
  }
  return groups.sort((a, b) => byName(a[0] ?? '', b[0] ?? ''));
}

function connectionsPerNode(connections: readonly ConnectionInfo[] | undefined): Map<string, number> | undefined {
  if (!connections) return undefined;
  const counts = new Map<string, number>();
  for (const c of connections) if (c.node) counts.set(c.node, (counts.get(c.node) ?? 0) + 1);
  return counts;
}

/** Autoheal's decision: most client connections, then most nodes. Unknown connections count as a tie on them. */
function trustedIndex(sides: readonly PartitionSide[]): { index: number; tie: boolean } {
  const value = (s: PartitionSide): [number, number] => [s.connections ?? 0, s.nodes.length];
  let best = 0;
  let tie = false;
  sides.forEach((side, i) => {
    if (i === best) return;
    const [c, n] = value(side);
    const [bc, bn] = value(sides[best] as PartitionSide);
    if (c > bc || (c === bc && n > bn)) {
      best = i;
      tie = false;
    } else if (c === bc && n === bn) {
      tie = true;
    }
  });
  return { index: best, tie };
}

function connectionText(count: number | null): string {
  if (count === null) return 'client connections unknown';
  return `${formatCount(count)} client connection${count === 1 ? '' : 's'}`;
}

/**
 * Which metadata store the cluster uses and what a partition means there: from the `khepri_db` flag the sweep read,
 * else from the nodes' version (Khepri by default from 4.2; on 4.0 and 4.1 Mnesia unless the flag is on).
 */
function metadataStoreNote(
  nodes: readonly ManagementNode[],
  flags: readonly ManagementFeatureFlag[] | undefined,
): { note: string; store: MetadataStore } | undefined {
  const version = clusterBrokerVersion(nodes.filter((n) => n.running));
  const flag = khepriFlag(flags);
  const store = metadataStore(version, flag);
  if (!store) return undefined;
  const why = flag
    ? `the \`khepri_db\` feature flag is ${flag}`
    : version && atLeast(version, 4, 0) && !khepriByDefault(version)
      ? `RabbitMQ ${version.raw}, unless the \`khepri_db\` feature flag is enabled (its state could not be read)`
      : `RabbitMQ ${version?.raw ?? 'version unknown'}`;
  return { note: `${partitionMeaning(store)} (${why}.)`, store };
}

/**
 * The `cluster_partition_handling` in force and what it does by itself, one line per mode (nodes differ only when
 * misconfigured); undefined when it was not read (no node control, or no node answered).
 */
function partitionHandlingNotes(handling: ClusterSnapshot['partitionHandling']): string[] | undefined {
  const groups = modeGroups(handling ?? []);
  if (groups.length === 0) return undefined;
  return groups.map((g) => {
    const where = groups.length === 1 ? 'every node that answered' : g.nodes.map((n) => `\`${n}\``).join(', ');
    return `cluster_partition_handling \`${formatPartitionHandling(g.handling)}\` on ${where}: ${partitionHandlingAction(g.handling)}`;
  });
}

function evaluate(
  nodes: readonly ManagementNode[],
  connections: readonly ConnectionInfo[] | undefined,
  flags?: readonly ManagementFeatureFlag[],
  handling?: ClusterSnapshot['partitionHandling'],
): Finding[] {
  const views = new Map<string, string[]>(
    nodes
      .filter((n) => n.partitions.length > 0)
      .map((n): [string, string[]] => [n.name, [...n.partitions].sort(byName)])
      .sort(([a], [b]) => byName(a, b)),
  );
  if (views.size === 0) return [];

  // A node that is down and named by nobody is on no side: node-down reports it.
  const named = new Set([...views.values()].flat());
  const members = new Set([...nodes.filter((n) => n.running || views.has(n.name)).map((n) => n.name), ...named]);
  const perNode = connectionsPerNode(connections);
  const sides: PartitionSide[] = partitionSides([...members], views).map((group) => ({
    nodes: group,
    connections: perNode ? group.reduce((sum, n) => sum + (perNode.get(n) ?? 0), 0) : null,
  }));
  const { index, tie } = trustedIndex(sides);
  const trusted = sides[index] as PartitionSide;
  const restart = sides.filter((_, i) => i !== index).flatMap((s) => s.nodes);

  const details = sides.map(
    (side, i) =>
      `Side ${i + 1}${i === index ? ' (trust)' : ''}: ${code(side.nodes)} — ${connectionText(side.connections)}`,
  );
  for (const [node, cannotSee] of views) details.push(`\`${node}\` cannot reach ${code(cannotSee)}`);
  const outside = nodes.filter((n) => !members.has(n.name)).map((n) => n.name);
  if (outside.length > 0) details.push(`Not running, on no side: ${code(outside.sort(byName))}`);
  if (perNode === undefined) {
    details.push('Connections could not be listed: side chosen by node count only; count clients per node by hand.');
  }
  const store = metadataStoreNote(nodes, flags);
  if (store) details.push(store.note);
  // On Khepri the modes do nothing (the note above says so); on Mnesia they decide what happens next.
  const modes = store?.store === 'khepri' ? undefined : partitionHandlingNotes(handling);
  if (modes) details.push(...modes);
  else if (store?.store !== 'khepri') {
    details.push(
      'cluster_partition_handling was not read (it takes node control): what the nodes do by themselves is unknown.',
    );
  }
  details.push(
    tie
      ? 'Tie under the autoheal rule (most client connections, then most nodes): choose the side clients use by hand.'
      : `Autoheal rule (most client connections, then most nodes): restart the rabbit app on ${code(restart)}.`,
  );

  const data: PartitionData = {
    sides,
    trustedSide: index,
    trusted: trusted.nodes,
    restart,
    tie,
    partitions: Object.fromEntries(views),
  };
  const trustText = tie
    ? 'no side wins the autoheal rule'
    : `trust ${code(trusted.nodes)} (${connectionText(trusted.connections)})`;
  return [
    {
      check: ID,
      severity: 'critical',
      subject: 'cluster',
      summary: `Network partition: ${formatCount(members.size)} nodes split into ${formatCount(sides.length)} sides; ${trustText}`,
      details,
      data,
    },
  ];
}

export const networkPartitionCheck = defineCheck({
  id: ID,
  title: 'Network partition',
  hint:
    'Keep the side clients use (most client connections, then most nodes). On every node outside it run ' +
    '`rabbitmqctl stop_app`, then `start_app` (`force_boot` if one will not boot). Stop them all before starting ' +
    'any: restarted one at a time, they leave the kept side still reporting the partition.',
  workflow: 'heal-partition',
  needs: ['nodes'],
  evaluate: (snapshot) =>
    evaluate(snapshot.nodes ?? [], snapshot.connections, snapshot.featureFlags, snapshot.partitionHandling),
});
