import { describe, expect, it } from 'vitest';
import { nodeDownCheck } from '../../../src/health/checks/node-down.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import {
  checkContext,
  fixtureEndpoints,
  fixtureNodes,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot) => nodeDownCheck.evaluate(snapshot, checkContext());

describe('node-down check', () => {
  it('needs only the endpoints, so it still runs when /api/nodes cannot be fetched', () => {
    expect(nodeDownCheck.needs).toEqual(['endpoints']);
  });

  it('reports a stopped node once, with its unreachable management API folded in', () => {
    const findings = evaluate(scenarioSnapshot('node-stopped', ['nodes', 'endpoints']));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      check: 'node-down',
      severity: 'critical',
      subject: 'rabbit3@localhost',
      summary: '`rabbit3@localhost` is not running',
      data: { node: 'rabbit3@localhost', running: false, urls: [expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)] },
    });
    expect(findings[0]?.details).toEqual([
      'Listed by the cluster as a disc node but not running',
      expect.stringMatching(/^Its management API at http:\/\/127\.0\.0\.1:\d+ does not answer: .*ECONNREFUSED/),
    ]);
  });

  it('reports each stopped node, sorted', () => {
    const findings = evaluate(scenarioSnapshot('quorum-lost', ['nodes', 'endpoints']));
    expect(findings.map((f) => [f.severity, f.subject])).toEqual([
      ['critical', 'rabbit2@localhost'],
      ['critical', 'rabbit3@localhost'],
    ]);
  });

  it('reports every unreachable endpoint by its remembered node when every node is down and /api/nodes is missing', () => {
    const findings = evaluate(snapshotOf({ endpoints: fixtureEndpoints('all-down-endpoints.json') }));
    expect(findings.map((f) => f.subject)).toEqual(['rabbit1@localhost', 'rabbit2@localhost', 'rabbit3@localhost']);
    expect(findings[0]?.summary).toBe('`rabbit1@localhost` does not answer (management API down)');
    expect(findings[0]?.details).toEqual([expect.stringContaining('ECONNREFUSED')]);
  });

  it('falls back to the URL when the node behind it was never learnt', () => {
    const [endpoint] = fixtureEndpoints('all-down-endpoints.json');
    if (!endpoint) throw new Error('fixture has no endpoint');
    const findings = evaluate(snapshotOf({ endpoints: [{ ...endpoint, node: undefined }] }));
    expect(findings).toHaveLength(1);
    expect(findings[0]?.subject).toBe(endpoint.url);
    expect(findings[0]?.summary).toBe(`Management API at ${endpoint.url} does not answer`);
  });

  it('tells a running node whose management API does not answer from a stopped one', () => {
    const snapshot = snapshotOf({
      nodes: fixtureNodes('healthy-nodes.json'),
      endpoints: fixtureEndpoints('node-stopped-endpoints.json'),
    });
    const findings = evaluate(snapshot);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      subject: 'rabbit3@localhost',
      summary: '`rabbit3@localhost` runs but its management API does not answer',
      data: { running: true },
    });
  });

  it('leaves partitioned nodes, which the API calls not running, to the network-partition check', () => {
    const snapshot = scenarioSnapshot('partition', ['nodes', 'endpoints']);
    expect(snapshot.nodes?.filter((n) => !n.running).map((n) => n.name)).toEqual([
      'rabbit2@localhost',
      'rabbit3@localhost',
    ]);
    expect(evaluate(snapshot)).toEqual([]);
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['nodes', 'endpoints']))).toEqual([]);
  });
});
