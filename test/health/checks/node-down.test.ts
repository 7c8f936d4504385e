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

  describe('after a whole-cluster stop', () => {
    const R1 = 'rabbit1@localhost';
    const R2 = 'rabbit2@localhost';
    const R3 = 'rabbit3@localhost';
    const at = (hms: string) => Date.parse(`2026-12-06T${hms}Z`);
    const seen = new Map([
      [R2, at('10:00:05')],
      [R3, at('10:00:40')],
      [R1, at('10:00:20')],
    ]);
    const allDown = () => snapshotOf({ endpoints: fixtureEndpoints('all-down-endpoints.json') });
    const withSeen = (lastSeenRunning: ReadonlyMap<string, number>) => ({ ...checkContext(), lastSeenRunning });

    it('says first which node to start: the last one seen running, and why', () => {
      const findings = nodeDownCheck.evaluate(allDown(), withSeen(seen));
      expect(findings.map((f) => f.subject)).toEqual(['start order', R1, R2, R3]);
      const [order] = findings;
      expect(order?.summary).toBe(
        'No node answers: if the whole cluster stopped, start `rabbit3@localhost` first, the last one seen running (2026-12-06 10:00:40 UTC)',
      );
      expect(order?.details?.[0]).toBe(
        'Last seen running, in order: `rabbit2@localhost` 2026-12-06 10:00:05 UTC, `rabbit1@localhost` 2026-12-06 10:00:20 UTC, `rabbit3@localhost` 2026-12-06 10:00:40 UTC',
      );
      expect(order?.details?.join('\n')).toMatch(/waits for it in its boot/);
      expect(order?.details?.join('\n')).toContain(
        '`/rabbit fix force-boot rabbit1@localhost --lost rabbit3@localhost`',
      );
      expect(order?.data).toEqual({
        lastStopped: R3,
        order: [
          { node: R2, lastSeenRunning: at('10:00:05') },
          { node: R1, lastSeenRunning: at('10:00:20') },
          { node: R3, lastSeenRunning: at('10:00:40') },
        ],
      });
    });

    it('says nothing of an order while a management URL answers, or with fewer than two nodes ever seen', () => {
      const oneDown = scenarioSnapshot('node-stopped', ['nodes', 'endpoints']);
      expect(nodeDownCheck.evaluate(oneDown, withSeen(seen)).map((f) => f.subject)).toEqual([R3]);
      const once = nodeDownCheck.evaluate(allDown(), withSeen(new Map([[R1, at('10:00:00')]])));
      expect(once.map((f) => f.subject)).toEqual([R1, R2, R3]);
      expect(evaluate(allDown()).map((f) => f.subject)).toEqual([R1, R2, R3]);
    });
  });
});
