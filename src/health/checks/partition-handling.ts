/**
 * Partition handling and cluster shape (runbook 1.4): whether the cluster is configured to make a partition worse.
 * Judges each running node's `cluster_partition_handling` (read through node control into the snapshot) against the
 * number of nodes:
 * - `ignore` on three nodes or more: every side runs on its own until a human heals it (pause_minority is the
 *   runbook's advice);
 * - `pause_minority` on two nodes: a partition leaves each side with half the cluster, so both pause;
 * - modes that differ between nodes: each side would act by its own rule;
 * - an even number of nodes: it can split into two halves, neither with a majority, and tolerates no more lost
 *   nodes than one node fewer.
 * On a Khepri cluster the modes do nothing (the metadata store is Raft), so only the even node count is judged, as a
 * matter of Raft majority. Judges only: the modes are set in rabbitmq.conf and take a node restart.
 */
import { formatCount } from '../../chat/human-format.js';
import type { NodePartitionHandling } from '../../cluster/partition-handling-reader.js';
import { khepriFlag, type MetadataStore, metadataStore } from '../../management/broker-version.js';
import { formatPartitionHandling, type ModeGroup, modeGroups } from '../../management/partition-handling.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';

const ID = 'partition-handling';

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function finding(subject: string, summary: string, details: string[], data: Record<string, unknown>): Finding {
  return { check: ID, severity: 'warning', subject, summary, details, data };
}

/** Running nodes whose mode could not be read: a rule judged without them says so. */
function unreadDetails(handling: readonly NodePartitionHandling[]): string[] {
  return handling
    .filter((n) => n.error !== undefined)
    .map((n) => `Mode of \`${n.node}\` could not be read: ${n.error}`);
}

function modeFindings(members: number, groups: readonly ModeGroup[], unread: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  if (groups.length > 1) {
    findings.push(
      finding(
        'modes-differ',
        `Nodes run different cluster_partition_handling modes: ${groups.map((g) => `\`${formatPartitionHandling(g.handling)}\``).join(', ')}`,
        [
          ...groups.map((g) => `\`${formatPartitionHandling(g.handling)}\` on ${code(g.nodes)}`),
          'In a partition each side acts by its own rule. Set one mode in every node’s rabbitmq.conf and restart the nodes one at a time.',
          ...unread,
        ],
        { modes: Object.fromEntries(groups.map((g) => [formatPartitionHandling(g.handling), g.nodes])) },
      ),
    );
  }
  const ignoring = groups.find((g) => g.handling.mode === 'ignore');
  if (ignoring && members >= 3) {
    findings.push(
      finding(
        'ignore',
        `cluster_partition_handling is \`ignore\` on a cluster of ${formatCount(members)} nodes`,
        [
          `\`ignore\` on ${code(ignoring.nodes)}: in a partition every side keeps running and diverging until a human restarts the nodes outside the side to keep.`,
          'The runbook’s advice: `cluster_partition_handling = pause_minority` (nodes that see half the cluster or fewer pause until it heals), with an odd number of nodes.',
          ...unread,
        ],
        { mode: 'ignore', nodes: ignoring.nodes, members },
      ),
    );
  }
  const pausing = groups.find((g) => g.handling.mode === 'pause_minority');
  if (pausing && members === 2) {
    findings.push(
      finding(
        'pause-minority-two-nodes',
        'cluster_partition_handling is `pause_minority` on a cluster of 2 nodes: a partition pauses both',
        [
          `\`pause_minority\` on ${code(pausing.nodes)}: each side of a partition sees half the cluster, which is not a majority, so every node pauses and the cluster stops serving.`,
          'Add a third node (pause_minority wants an odd number, more than two), or use `autoheal` on two nodes.',
          ...unread,
        ],
        { mode: 'pause_minority', nodes: pausing.nodes, members },
      ),
    );
  }
  return findings;
}

function evenCountFinding(members: number, khepri: boolean, unread: readonly string[]): Finding[] {
  if (members < 2 || members % 2 !== 0) return [];
  const majority = Math.floor(members / 2) + 1;
  const why = khepri
    ? `Khepri (Raft) needs ${formatCount(majority)} of ${formatCount(members)} nodes to change metadata: an even count can split into two halves where neither side can, and tolerates no more lost nodes than ${formatCount(members - 1)} would.`
    : `A partition can split it into two halves where neither has a majority (pause_minority pauses both; quorum queues lose their majority on both sides), and it tolerates no more lost nodes than ${formatCount(members - 1)} would.`;
  return [
    finding(
      'even-node-count',
      `The cluster has an even number of nodes (${formatCount(members)})`,
      [why, 'Run an odd number of nodes: add one, or remove one.', ...unread],
      { members, khepri },
    ),
  ];
}

/**
 * The findings for a cluster of `members` nodes (running or not) whose running nodes run `handling`, on `store`.
 * Shared with `/rabbit status`, which shows the same judgement beside the modes.
 */
export function partitionHandlingFindings(
  members: number,
  store: MetadataStore | undefined,
  handling: readonly NodePartitionHandling[],
): Finding[] {
  const unread = unreadDetails(handling);
  if (store === 'khepri') return evenCountFinding(members, true, unread);
  return [...modeFindings(members, modeGroups(handling), unread), ...evenCountFinding(members, false, unread)];
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  const store = metadataStore(context.version, khepriFlag(snapshot.featureFlags));
  return partitionHandlingFindings((snapshot.nodes ?? []).length, store, snapshot.partitionHandling ?? []);
}

export const partitionHandlingCheck = defineCheck({
  id: ID,
  title: 'Partition handling',
  hint:
    'Set one `cluster_partition_handling` on every node in rabbitmq.conf: `pause_minority` with an odd number of ' +
    'nodes, three or more (runbook 1.4). It takes effect when each node restarts, one at a time. On a Khepri ' +
    'cluster the modes do nothing: keep an odd number of nodes for a Raft majority.',
  needs: ['nodes', 'partitionHandling'],
  evaluate,
});
