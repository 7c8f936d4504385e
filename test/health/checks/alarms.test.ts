import { describe, expect, it } from 'vitest';
import { alarmsCheck, describeClient } from '../../../src/health/checks/alarms.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureConnections, scenarioSnapshot } from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot) => alarmsCheck.evaluate(snapshot, checkContext());

describe('alarms check', () => {
  it('reports a real memory alarm with its figures and the blocked publishers by service and host', () => {
    const findings = evaluate(scenarioSnapshot('memory-alarm', ['nodes', 'connections', 'endpoints']));
    expect(findings.map((f) => [f.severity, f.subject])).toEqual([
      ['critical', 'rabbit2@localhost'],
      ['critical', 'blocked-publishers'],
    ]);
    const [alarm, blocked] = findings;
    expect(alarm?.summary).toBe('Memory alarm on `rabbit2@localhost`: publishers are blocked cluster-wide');
    expect(alarm?.details).toEqual([
      'Memory: 132 MiB used, limit 2.4 MiB',
      'Its `local-alarms` health check fails: There are alarms in effect on the node',
    ]);
    expect(alarm?.data).toMatchObject({ node: 'rabbit2@localhost', alarms: ['memory'], mem_limit: 2527606 });

    // 3.10 marks connections that published as blocked and every other one as blocking
    expect(blocked?.summary).toBe(
      'Publishers blocked by a resource alarm: 2 connections blocked, 4 blocking (stopped at their next publish)',
    );
    expect(blocked?.details).toEqual([
      '`neutron-server` on `127.0.0.1` (pid 3120) — blocked on `rabbit2@localhost`',
      '`nova-conductor` on `127.0.0.1` (pid 2230) — blocked on `rabbit1@localhost`',
      '`cinder-scheduler` on `127.0.0.1` (pid 4410) — blocking on `rabbit3@localhost`',
      '`neutron-dhcp-agent` on `127.0.0.1` (pid 3188) — blocking on `rabbit2@localhost`',
      '`nova-compute` on `127.0.0.1` (pid 2101) — blocking on `rabbit1@localhost`',
      '`nova-scheduler` on `127.0.0.1` (pid 2301) — blocking on `rabbit1@localhost`',
    ]);
    expect(blocked?.data).toMatchObject({ blocked: 2, blocking: 4 });
  });

  it('reports a real disk alarm with free space and limit', () => {
    const findings = evaluate(scenarioSnapshot('disk-alarm', ['nodes', 'connections', 'endpoints']));
    expect(findings.map((f) => f.subject)).toEqual(['rabbit3@localhost', 'blocked-publishers']);
    expect(findings[0]?.summary).toBe('Disk alarm on `rabbit3@localhost`: publishers are blocked cluster-wide');
    expect(findings[0]?.details?.[0]).toMatch(/^Disk: \d+ GiB free, limit 931 GiB$/);
  });

  it('trusts the node’s own local-alarms endpoint when /api/nodes lacks the alarm fields', () => {
    const snapshot = scenarioSnapshot('memory-alarm', ['nodes', 'endpoints']);
    const nodes = snapshot.nodes?.map(({ mem_alarm: _m, disk_free_alarm: _d, ...node }) => node);
    const findings = evaluate({ ...snapshot, nodes });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      subject: 'rabbit2@localhost',
      summary: 'Resource alarm on `rabbit2@localhost`: publishers are blocked cluster-wide',
      details: ['Its `local-alarms` health check fails: There are alarms in effect on the node'],
    });
  });

  it('lists at most ten stuck connections and counts the rest', () => {
    const snapshot = scenarioSnapshot('memory-alarm', ['nodes', 'connections']);
    const connections = (snapshot.connections ?? []).flatMap((c, i) => [c, { ...c, name: `${c.name} #${i}` }]);
    const blocked = evaluate({ ...snapshot, connections }).find((f) => f.subject === 'blocked-publishers');
    expect(blocked?.details).toHaveLength(11);
    expect(blocked?.details?.[10]).toBe('…and 2 more');
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['nodes', 'connections', 'endpoints']))).toEqual([]);
  });

  it('names a client that is not oslo.messaging by its connection name', () => {
    const [connection] = fixtureConnections('healthy-connections.json');
    if (!connection) throw new Error('fixture has no connection');
    expect(describeClient({ ...connection, client_properties: { connection_name: 'billing-worker' } })).toBe(
      '`billing-worker` on `127.0.0.1`',
    );
    expect(
      describeClient({
        ...connection,
        client_properties: { connection_name: `/usr/bin/nova-api:12:${'a'.repeat(32)}` },
      }),
    ).toBe('`nova-api` on `127.0.0.1` (pid 12)');
  });
});
