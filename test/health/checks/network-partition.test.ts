import { describe, expect, it } from 'vitest';
import {
  networkPartitionCheck,
  type PartitionData,
  partitionSides,
} from '../../../src/health/checks/network-partition.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import type { Finding } from '../../../src/health/finding.js';
import {
  checkContext,
  fixtureConnections,
  fixtureNodes,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';
const evaluate = (snapshot: ClusterSnapshot) => networkPartitionCheck.evaluate(snapshot, checkContext());

/** The one finding the check must produce for a partition. */
function partitionFinding(snapshot: ClusterSnapshot): Finding & { data: PartitionData } {
  const findings = evaluate(snapshot);
  expect(findings).toHaveLength(1);
  return findings[0] as Finding & { data: PartitionData };
}

describe('network-partition check', () => {
  it('reports one critical finding with both sides of a real 3.10 partition and trusts the busier side', () => {
    const finding = partitionFinding(scenarioSnapshot('partition', ['nodes', 'connections']));
    expect(finding).toMatchObject({ check: 'network-partition', severity: 'critical', subject: 'cluster' });
    expect(finding.summary).toBe(
      'Network partition: 3 nodes split into 2 sides; trust `rabbit1@localhost` (4 client connections)',
    );
    expect(finding.details).toEqual(
      expect.arrayContaining([
        'Side 1 (trust): `rabbit1@localhost` — 4 client connections',
        'Side 2: `rabbit2@localhost`, `rabbit3@localhost` — 2 client connections',
        '`rabbit1@localhost` cannot reach `rabbit2@localhost`, `rabbit3@localhost`',
        '`rabbit2@localhost` cannot reach `rabbit1@localhost`',
        expect.stringContaining('restart the rabbit app on `rabbit2@localhost`, `rabbit3@localhost`'),
      ]),
    );
    // one node with more clients beats two nodes with fewer: connections come first in the autoheal rule
    expect(finding.data).toEqual({
      sides: [
        { nodes: [R1], connections: 4 },
        { nodes: [R2, R3], connections: 2 },
      ],
      trustedSide: 0,
      trusted: [R1],
      restart: [R2, R3],
      tie: false,
      partitions: { [R1]: [R2, R3], [R2]: [R1], [R3]: [R1] },
    } satisfies PartitionData);
  });

  it('finds the same sides whichever side answered the management API', () => {
    const fromR1 = partitionFinding(scenarioSnapshot('partition', ['nodes', 'connections']));
    const fromR2 = partitionFinding(
      snapshotOf({
        nodes: fixtureNodes('partition-nodes-from-rabbit2.json'),
        connections: fixtureConnections('partition-connections.json'),
      }),
    );
    expect(fromR2.data).toEqual(fromR1.data);
  });

  it('splits a real three-way partition into three sides', () => {
    const finding = partitionFinding(scenarioSnapshot('partition-3way', ['nodes', 'connections']));
    const { data } = finding;
    expect(data.sides).toEqual([
      { nodes: [R1], connections: 4 },
      { nodes: [R2], connections: 1 },
      { nodes: [R3], connections: 1 },
    ]);
    expect(data.restart).toEqual([R2, R3]);
    expect(finding.summary).toContain('split into 3 sides');
  });

  it('falls back to node count and says so when connections could not be listed', () => {
    const finding = partitionFinding(scenarioSnapshot('partition', ['nodes']));
    const { data } = finding;
    expect(data.sides.map((s) => s.connections)).toEqual([null, null]);
    expect(data.trusted).toEqual([R2, R3]);
    expect(finding.summary).toContain('trust `rabbit2@localhost`, `rabbit3@localhost` (client connections unknown)');
    expect(finding.details).toContainEqual(expect.stringContaining('Connections could not be listed'));
  });

  it('declares a tie instead of guessing when sides have as many connections and nodes', () => {
    const finding = partitionFinding(scenarioSnapshot('partition-3way', ['nodes']));
    expect(finding.data).toMatchObject({ tie: true });
    expect(finding.summary).toContain('no side wins the autoheal rule');
    expect(finding.details).toContainEqual(expect.stringContaining('choose the side clients use by hand'));
  });

  it('keeps firing while the kept side still reports the partition after the others restarted one at a time', () => {
    // captured after stop_app/start_app of rabbit2 then rabbit3: only rabbit1 still lists a partition
    const finding = partitionFinding(scenarioSnapshot('partition-after-heal', ['nodes']));
    expect(finding.data).toMatchObject({
      sides: [{ nodes: [R1] }, { nodes: [R2, R3] }],
      partitions: { [R1]: [R2, R3] },
    });
  });

  it('is deterministic whatever the order of nodes and connections', () => {
    const snapshot = scenarioSnapshot('partition', ['nodes', 'connections']);
    const shuffled = {
      ...snapshot,
      nodes: [...(snapshot.nodes ?? [])].reverse(),
      connections: [...(snapshot.connections ?? [])].reverse(),
    };
    expect(evaluate(shuffled)).toEqual(evaluate(snapshot));
  });

  it("says which metadata store the cluster uses: from the khepri_db flag, else from the nodes' version", () => {
    const snapshot = scenarioSnapshot('partition', ['nodes', 'connections']);
    const at = (version: string, khepri?: 'enabled' | 'disabled') =>
      partitionFinding({
        ...snapshot,
        nodes: (snapshot.nodes ?? []).map((n) => ({ ...n, applications: [{ name: 'rabbit', version }] })),
        ...(khepri
          ? {
              featureFlags: [
                { name: 'stream_queue', state: 'enabled' },
                { name: 'khepri_db', state: khepri },
              ],
            }
          : {}),
      }).details?.filter((d) => d.startsWith('Metadata store'));
    expect(at('3.10.8')).toEqual([expect.stringMatching(/^Metadata store: Mnesia\. .* \(RabbitMQ 3\.10\.8\.\)$/)]);
    expect(at('4.0.5')).toEqual([
      expect.stringMatching(
        /^Metadata store: Mnesia\. .* \(RabbitMQ 4\.0\.5, unless the `khepri_db` feature flag is enabled \(its state could not be read\)\.\)$/,
      ),
    ]);
    expect(at('4.0.5', 'disabled')).toEqual([
      expect.stringMatching(/^Metadata store: Mnesia\. .* \(the `khepri_db` feature flag is disabled\.\)$/),
    ]);
    expect(at('4.0.5', 'enabled')).toEqual([
      expect.stringMatching(/^Metadata store: Khepri \(Raft\)\. cluster_partition_handling modes do not apply/),
    ]);
    expect(at('4.2.1')).toEqual([
      expect.stringMatching(/^Metadata store: Khepri \(Raft\)\. .* \(RabbitMQ 4\.2\.1\.\)$/),
    ]);
    expect(partitionFinding(snapshot).details?.filter((d) => d.startsWith('Metadata store'))).toEqual([]);
  });

  it('names a stopped node that no side claims', () => {
    const snapshot = scenarioSnapshot('partition', ['nodes', 'connections']);
    const nodes = [...(snapshot.nodes ?? []), { name: 'rabbit4@localhost', running: false, partitions: [] }];
    const finding = partitionFinding({ ...snapshot, nodes });
    expect(finding.details).toContain('Not running, on no side: `rabbit4@localhost`');
    expect(finding.data.sides.flatMap((s) => s.nodes)).not.toContain('rabbit4@localhost');
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['nodes', 'connections']))).toEqual([]);
  });
});

describe('partitionSides', () => {
  it('keeps a node that sees both sides with the first node that split', () => {
    const views = new Map([
      ['a', ['c']],
      ['c', ['a']],
    ]);
    expect(partitionSides(['c', 'b', 'a'], views)).toEqual([['a', 'b'], ['c']]);
  });
});
