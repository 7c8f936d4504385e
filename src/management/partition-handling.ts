/**
 * Owns what `cluster_partition_handling` means (runbook 1.4): its modes as a node's application environment holds
 * them, how they are shown, and what each does by itself when the cluster splits. Pure: reading a node's mode is node
 * control's job (`rabbitmqctl environment`: no management endpoint or Prometheus metric carries it, on 3.10 to 4.2),
 * judging a cluster's modes is the partition-handling check's. A Mnesia concept: on a Khepri cluster (and on every
 * cluster from RabbitMQ 4.3, which removed Mnesia) the modes do nothing, and what matters is a Raft majority.
 */

export type PartitionHandling =
  | { mode: 'ignore' | 'pause_minority' | 'autoheal' }
  | {
      mode: 'pause_if_all_down';
      /** The nodes one of which a node must reach to keep running. */
      nodes: string[];
      /** What happens once the partition is over: `ignore` or `autoheal`. */
      recover: 'ignore' | 'autoheal';
    };

export type PartitionHandlingMode = PartitionHandling['mode'];

const SIMPLE = ['ignore', 'pause_minority', 'autoheal'] as const;

function isSimple(value: unknown): value is (typeof SIMPLE)[number] {
  return typeof value === 'string' && (SIMPLE as readonly string[]).includes(value);
}

/**
 * The mode from the value of `rabbit.cluster_partition_handling` as `environment --formatter json` renders it: an
 * atom becomes a string, the tuple `{pause_if_all_down, [Nodes], Recover}` a list of three. Undefined when the value
 * is none of these.
 */
export function partitionHandlingFrom(value: unknown): PartitionHandling | undefined {
  if (isSimple(value)) return { mode: value };
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [mode, nodes, recover] = value as unknown[];
  if (mode !== 'pause_if_all_down' || !Array.isArray(nodes)) return undefined;
  if (!nodes.every((n): n is string => typeof n === 'string')) return undefined;
  if (recover !== 'ignore' && recover !== 'autoheal') return undefined;
  return { mode, nodes: [...nodes].sort(), recover };
}

/** `pause_minority`, or `pause_if_all_down [rabbit@a, rabbit@b], then autoheal`: equal modes read the same. */
export function formatPartitionHandling(handling: PartitionHandling): string {
  if (handling.mode !== 'pause_if_all_down') return handling.mode;
  return `pause_if_all_down [${handling.nodes.join(', ')}], then ${handling.recover}`;
}

/** What the mode does by itself when the cluster splits (on Mnesia), and what that leaves to a human. */
export function partitionHandlingAction(handling: PartitionHandling): string {
  switch (handling.mode) {
    case 'ignore':
      return 'ignore does nothing by itself: every side keeps running and diverging until a human restarts the nodes outside the side to keep.';
    case 'pause_minority':
      return 'pause_minority pauses the nodes on a side that sees half the cluster or fewer until the partition is over; they rejoin by themselves. The side still running is the one to keep: wait for the paused nodes before restarting anything.';
    case 'autoheal':
      return 'autoheal restarts the losing side by itself once the nodes see each other again (the side with the most client connections, then the most nodes, wins): wait for it before restarting anything by hand.';
    case 'pause_if_all_down':
      return `pause_if_all_down pauses a node that can reach none of ${handling.nodes.join(', ')}; once the partition is over it ${
        handling.recover === 'autoheal'
          ? 'heals as autoheal does (the losing side restarts by itself)'
          : 'does nothing: a human restarts the nodes outside the side to keep'
      }.`;
  }
}

/** The nodes of each mode in force, most nodes first (then by mode), each list sorted. */
export interface ModeGroup {
  handling: PartitionHandling;
  nodes: string[];
}

export function modeGroups(nodes: readonly { node: string; handling?: PartitionHandling }[]): ModeGroup[] {
  const groups = new Map<string, ModeGroup>();
  for (const { node, handling } of nodes) {
    if (!handling) continue;
    const key = formatPartitionHandling(handling);
    const group = groups.get(key) ?? { handling, nodes: [] };
    group.nodes.push(node);
    groups.set(key, group);
  }
  for (const group of groups.values()) group.nodes.sort();
  return [...groups.entries()]
    .sort(([a, ga], [b, gb]) => gb.nodes.length - ga.nodes.length || a.localeCompare(b))
    .map(([, group]) => group);
}
