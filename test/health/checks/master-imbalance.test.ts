import { describe, expect, it } from 'vitest';
import type { HealthThresholds } from '../../../src/config/health-schema.js';
import { masterImbalanceCheck } from '../../../src/health/checks/master-imbalance.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import {
  checkContext,
  fixtureNodes,
  fixtureQueues,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot, thresholds: Partial<HealthThresholds> = {}) =>
  masterImbalanceCheck.evaluate(snapshot, checkContext(thresholds));

// 40 classic queues declared 30/5/5 on the three nodes, plus the cluster's mirrored and quorum queues.
const imbalanced = (nodes = 'healthy-nodes.json') =>
  snapshotOf({ nodes: fixtureNodes(nodes), queues: fixtureQueues('master-imbalance-queues.json') });

describe('master-imbalance check', () => {
  it('reports one info finding with the leader distribution, counting quorum leaders', () => {
    const findings = evaluate(imbalanced());
    expect(findings).toHaveLength(1);
    const [finding] = findings;
    expect(finding).toMatchObject({
      check: 'master-imbalance',
      severity: 'info',
      subject: 'cluster',
      summary: '`rabbit1@localhost` leads 33 of 46 queues (fair share 15)',
    });
    expect(finding?.details).toEqual([
      '`rabbit1@localhost`: 33 (72%)',
      '`rabbit2@localhost`: 7 (15%)',
      '`rabbit3@localhost`: 6 (13%)',
      'Fair share: 15 per running node',
      '31 of 33 on `rabbit1@localhost` are unmirrored classic queues, which a rebalance cannot move',
    ]);
    expect(finding?.data).toMatchObject({
      busiest: 'rabbit1@localhost',
      counts: { 'rabbit1@localhost': 33, 'rabbit2@localhost': 7, 'rabbit3@localhost': 6 },
      total: 46,
      unmovable: 31,
    });
    expect(masterImbalanceCheck.hint).toContain('POST /api/rebalance/queues');
  });

  it('finds nothing when leaders are spread', () => {
    const snapshot = snapshotOf({
      nodes: fixtureNodes('healthy-nodes.json'),
      queues: fixtureQueues('master-balanced-queues.json'),
    });
    expect(snapshot.queues?.length).toBeGreaterThanOrEqual(30);
    expect(evaluate(snapshot)).toEqual([]);
  });

  it('judges only against running nodes', () => {
    // rabbit3 is stopped: 40 queues on 2 nodes, a fair share of 20, and 33 is not above twice that
    expect(evaluate(imbalanced('node-stopped-nodes.json'))).toEqual([]);
  });

  it('follows the configured multiple and minimum number of queues', () => {
    expect(evaluate(imbalanced(), { masterImbalance: 3 })).toEqual([]);
    expect(evaluate(imbalanced(), { masterImbalanceMinQueues: 47 })).toEqual([]);
    expect(evaluate(imbalanced(), { masterImbalanceMinQueues: 46 })).toHaveLength(1);
  });

  it('finds nothing on a small healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['nodes', 'queues']))).toEqual([]);
  });
});
