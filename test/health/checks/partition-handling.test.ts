import { describe, expect, it } from 'vitest';
import type { NodePartitionHandling } from '../../../src/cluster/partition-handling-reader.js';
import { runChecks } from '../../../src/health/check-run.js';
import { networkPartitionCheck } from '../../../src/health/checks/network-partition.js';
import { partitionHandlingCheck } from '../../../src/health/checks/partition-handling.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import { snapshotVersion } from '../../../src/health/cluster-snapshot.js';
import { NO_NODE_CONTROL } from '../../../src/health/snapshot-fetcher.js';
import type { PartitionHandling } from '../../../src/management/partition-handling.js';
import type { ManagementFeatureFlag, ManagementNode } from '../../../src/management/schemas.js';
import {
  checkContext,
  fixtureConnections,
  fixtureNodes,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

/** The real 3-node 3.10 cluster's /api/nodes, cut to `count` nodes (or grown with copies) for other shapes. */
function nodesOf(count: number, series: '3.10' | '4.0' = '3.10'): ManagementNode[] {
  const real = fixtureNodes(series === '3.10' ? 'healthy-nodes.json' : 'kolla-nodes.json', series);
  return Array.from({ length: count }, (_, i) => ({
    ...(real[i % real.length] as ManagementNode),
    name: `rabbit${i + 1}@localhost`,
  }));
}

function read(nodes: readonly ManagementNode[], modes: (PartitionHandling | string)[]): NodePartitionHandling[] {
  return nodes.map((n, i) => {
    const mode = modes[i % modes.length] as PartitionHandling | string;
    return typeof mode === 'string'
      ? { node: n.name, error: mode, readAt: 0 }
      : { node: n.name, handling: mode, readAt: 0 };
  });
}

function shape(
  count: number,
  modes: (PartitionHandling | string)[],
  extra: Partial<ClusterSnapshot> = {},
): ClusterSnapshot {
  const nodes = nodesOf(count, extra.featureFlags ? '4.0' : '3.10');
  return snapshotOf({ nodes, partitionHandling: read(nodes, modes), ...extra });
}

function evaluate(snapshot: ClusterSnapshot) {
  const version = snapshotVersion(snapshot);
  return partitionHandlingCheck.evaluate(snapshot, { ...checkContext(), ...(version ? { version } : {}) });
}

const subjects = (snapshot: ClusterSnapshot) => evaluate(snapshot).map((f) => f.subject);
const IGNORE = { mode: 'ignore' } as const;
const PAUSE = { mode: 'pause_minority' } as const;
const AUTOHEAL = { mode: 'autoheal' } as const;
const khepri = (state: 'enabled' | 'disabled'): ManagementFeatureFlag[] =>
  [{ name: 'khepri_db', state, stability: 'experimental' }] as ManagementFeatureFlag[];

describe('partition-handling check', () => {
  it('passes pause_minority on three nodes, and autoheal on three', () => {
    expect(subjects(shape(3, [PAUSE]))).toEqual([]);
    expect(subjects(shape(3, [AUTOHEAL]))).toEqual([]);
    expect(subjects(shape(1, [IGNORE]))).toEqual([]);
  });

  it('finds ignore on a cluster of three or more nodes, naming them and the runbook advice', () => {
    const [finding] = evaluate(shape(3, [IGNORE]));
    expect(finding).toMatchObject({
      check: 'partition-handling',
      severity: 'warning',
      subject: 'ignore',
      summary: 'cluster_partition_handling is `ignore` on a cluster of 3 nodes',
      data: { mode: 'ignore', nodes: ['rabbit1@localhost', 'rabbit2@localhost', 'rabbit3@localhost'], members: 3 },
    });
    expect(finding?.details?.join('\n')).toContain('pause_minority');
    expect(subjects(shape(2, [IGNORE]))).toEqual(['even-node-count']);
  });

  it('finds pause_minority on two nodes, which pauses both sides, beside the even count', () => {
    const findings = evaluate(shape(2, [PAUSE]));
    expect(findings.map((f) => f.subject)).toEqual(['pause-minority-two-nodes', 'even-node-count']);
    expect(findings[0]?.summary).toContain('a partition pauses both');
  });

  it('finds modes that differ between nodes, with the nodes of each', () => {
    const [finding, ...rest] = evaluate(shape(3, [PAUSE, PAUSE, AUTOHEAL]));
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({
      subject: 'modes-differ',
      data: { modes: { pause_minority: ['rabbit1@localhost', 'rabbit2@localhost'], autoheal: ['rabbit3@localhost'] } },
    });
    expect(finding?.details).toContain('`autoheal` on `rabbit3@localhost`');
    // ignore on one of them is both a difference and ignore on a 3-node cluster
    expect(subjects(shape(3, [PAUSE, IGNORE, PAUSE]))).toEqual(['modes-differ', 'ignore']);
  });

  it('finds an even node count, and says which nodes it could not read', () => {
    const findings = evaluate(shape(4, [PAUSE, PAUSE, PAUSE, 'exit 69: node down']));
    expect(findings.map((f) => f.subject)).toEqual(['even-node-count']);
    expect(findings[0]?.summary).toBe('The cluster has an even number of nodes (4)');
    expect(findings[0]?.details).toContain('Mode of `rabbit4@localhost` could not be read: exit 69: node down');
  });

  it('on Khepri judges no mode (they do not apply), only the node count as a Raft majority', () => {
    const enabled = { featureFlags: khepri('enabled') };
    expect(subjects(shape(3, [IGNORE], enabled))).toEqual([]);
    const [even] = evaluate(shape(4, [IGNORE, AUTOHEAL], enabled));
    expect(even).toMatchObject({ subject: 'even-node-count', data: { members: 4, khepri: true } });
    expect(even?.details?.[0]).toMatch(/Khepri \(Raft\) needs 3 of 4 nodes/);
    // the same 4.0 cluster on Mnesia (flag disabled): the modes count again
    expect(subjects(shape(3, [IGNORE], { featureFlags: khepri('disabled') }))).toEqual(['ignore']);
  });

  it('is not applicable without node control, and could not run when no node could be read', () => {
    const nodes = nodesOf(3);
    const [none] = runChecks(
      [partitionHandlingCheck],
      snapshotOf({ nodes, unavailable: { partitionHandling: NO_NODE_CONTROL } }),
      checkContext(),
    );
    expect(none).toMatchObject({ notApplicable: NO_NODE_CONTROL });
    const [failed] = runChecks(
      [partitionHandlingCheck],
      snapshotOf({ nodes, errors: { partitionHandling: 'exit 69' } }),
      checkContext(),
    );
    expect(failed?.skipped).toBe('partitionHandling: exit 69');
  });
});

describe('the partition alert names the mode in force', () => {
  const partition = (modes: PartitionHandling[], flags?: ManagementFeatureFlag[]) => {
    const snapshot = scenarioSnapshot('partition', ['nodes', 'connections']);
    snapshot.partitionHandling = read(snapshot.nodes ?? [], modes);
    if (flags) snapshot.featureFlags = flags;
    const [finding] = networkPartitionCheck.evaluate(snapshot, checkContext());
    return finding?.details ?? [];
  };

  it('autoheal: the losing side restarts by itself, so a human waits', () => {
    expect(partition([AUTOHEAL])).toContainEqual(
      expect.stringMatching(
        /^cluster_partition_handling `autoheal` on every node that answered: autoheal restarts the losing side by itself.*wait/,
      ),
    );
  });

  it('ignore does nothing; pause_minority pauses the minority; differing modes are named per node', () => {
    expect(partition([IGNORE])).toContainEqual(expect.stringContaining('ignore does nothing by itself'));
    const mixed = partition([PAUSE, AUTOHEAL, PAUSE]);
    expect(mixed).toContainEqual(
      expect.stringMatching(
        /^cluster_partition_handling `pause_minority` on `rabbit1@localhost`, `rabbit3@localhost`: pause_minority pauses/,
      ),
    );
    expect(mixed).toContainEqual(
      expect.stringMatching(/^cluster_partition_handling `autoheal` on `rabbit2@localhost`/),
    );
  });

  it('says when the mode was not read, and on Khepri names no mode', () => {
    const snapshot = scenarioSnapshot('partition', ['nodes']);
    snapshot.connections = fixtureConnections('partition-connections.json');
    const [finding] = networkPartitionCheck.evaluate(snapshot, checkContext());
    expect(finding?.details).toContainEqual(expect.stringContaining('cluster_partition_handling was not read'));
    const onKhepri = partition([AUTOHEAL], khepri('enabled'));
    expect(onKhepri).toContainEqual(expect.stringContaining('cluster_partition_handling modes do not apply'));
    expect(onKhepri.some((d) => d.startsWith('cluster_partition_handling `'))).toBe(false);
  });
});
