import { describe, expect, it } from 'vitest';
import { heartbeatsCheck } from '../../../src/health/checks/heartbeats.js';
import type { ClusterSnapshot, ConnectionInfo } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureConnections, snapshotOf } from '../../support/snapshot-fixtures.js';

// Two cinder-volume processes and one neutron-openvswitch-agent connected with `?heartbeat=0`; the rest negotiated 60 s.
const heartbeatConnections = () => fixtureConnections('heartbeat-connections.json');
const evaluate = (connections: ConnectionInfo[], thresholds = {}) =>
  heartbeatsCheck.evaluate(snapshotOf({ connections }) as ClusterSnapshot, checkContext(thresholds));

describe('heartbeats check', () => {
  it('reports one info finding per OpenStack service, with its hosts and connection count', () => {
    const findings = evaluate(heartbeatConnections());
    expect(findings.map((f) => f.subject)).toEqual(['service:cinder-volume', 'service:neutron-openvswitch-agent']);
    expect(findings[0]).toMatchObject({
      check: 'heartbeats',
      severity: 'info',
      summary: '`cinder-volume`: 2 connections with heartbeats disabled, from `127.0.0.1`',
      data: { service: 'cinder-volume', connections: 2, hosts: ['127.0.0.1'], timeouts: [0] },
    });
    expect(findings[0]?.details).toHaveLength(2);
    expect(findings[0]?.details?.[0]).toMatch(/^`cinder-volume` on `127\.0\.0\.1`, pid 77[78], .*: heartbeat off$/);
    expect(findings[1]?.summary).toBe(
      '`neutron-openvswitch-agent`: 1 connection with heartbeats disabled, from `127.0.0.1`',
    );
  });

  it('counts very long timeouts as disabled', () => {
    const connections = heartbeatConnections().map((c) =>
      c.client_properties.connection_name?.startsWith('nova-compute:') ? { ...c, timeout: 3600 } : c,
    );
    const compute = evaluate(connections).find((f) => f.subject === 'service:nova-compute');
    expect(compute?.summary).toBe('`nova-compute`: 1 connection with heartbeat timeouts above 600 s, from `127.0.0.1`');
    expect(compute?.details?.[0]).toMatch(/: heartbeat 3,600 s$/);
    expect(evaluate(connections, { heartbeatMaxSeconds: 3600 }).map((f) => f.subject)).not.toContain(
      'service:nova-compute',
    );
  });

  it('groups clients without an oslo name together', () => {
    const connections = heartbeatConnections().map((c) =>
      c.client_properties.connection_name === undefined ? { ...c, timeout: 0 } : c,
    );
    const unknown = evaluate(connections).find((f) => f.subject === 'service:unknown');
    expect(unknown?.summary).toBe(
      'Clients without an oslo connection name: 2 connections with heartbeats disabled, from `127.0.0.1`',
    );
  });

  it('does not judge connections that report no timeout', () => {
    const connections = heartbeatConnections().map((c) => {
      if (c.timeout !== 0) return c;
      const { timeout: _timeout, ...rest } = c;
      return rest;
    });
    expect(evaluate(connections)).toEqual([]);
  });

  it('finds nothing when every client negotiated heartbeats', () => {
    expect(evaluate(fixtureConnections('leaky-connections.json'))).toEqual([]);
    expect(evaluate(fixtureConnections('healthy-connections.json'))).toEqual([]);
  });

  it('points at the client setting', () => {
    expect(heartbeatsCheck.hint).toContain('heartbeat_timeout_threshold');
    expect(heartbeatsCheck.needs).toEqual(['connections']);
  });
});
