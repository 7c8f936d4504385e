import { describe, expect, it } from 'vitest';
import { quorumForgottenMembersCheck } from '../../../src/health/checks/quorum-forgotten-members.js';
import { quorumMembersCheck } from '../../../src/health/checks/quorum-members.js';
import type { ClusterSnapshot, QueueInfo } from '../../../src/health/cluster-snapshot.js';
import { queueTraffic } from '../../../src/health/oslo-topic-services.js';
import { checkContext, scenarioSnapshot } from '../../support/snapshot-fixtures.js';

const R1 = 'rabbit1@localhost';
const R3 = 'rabbit3@localhost';

/** The healthy kolla layout captured on RabbitMQ 4.0, with its quorum queues changed by `edit`. */
function kolla(edit: (q: QueueInfo) => QueueInfo = (q) => q): ClusterSnapshot {
  const snapshot = scenarioSnapshot('kolla', ['nodes', 'queues'], '4.0');
  return { ...snapshot, queues: snapshot.queues?.map((q) => (q.type === 'quorum' ? edit(q) : q)) };
}

const without = (node: string) => (q: QueueInfo) => ({
  ...q,
  members: q.members?.filter((m) => m !== node),
  online: q.online?.filter((m) => m !== node),
});

describe('quorum-members check', () => {
  it('is silent on the healthy kolla layout and on 3.10’s healthy capture', () => {
    expect(quorumMembersCheck.evaluate(kolla(), checkContext())).toEqual([]);
    expect(quorumMembersCheck.evaluate(scenarioSnapshot('healthy', ['nodes', 'queues']), checkContext())).toEqual([]);
  });

  it('groups the queues with no member on a node in one finding, RPC and notification queues counted apart', () => {
    const findings = quorumMembersCheck.evaluate(kolla(without(R3)), checkContext());
    expect(findings.map((f) => [f.severity, f.subject])).toEqual([['warning', `missing:${R3}`]]);
    const [f] = findings;
    expect(f?.summary).toBe(`7 quorum queue(s) have no member on \`${R3}\``);
    expect(f?.details?.[0]).toMatch(
      /^6 RPC \(nova-compute, nova-scheduler\), 1 notification\. Usually the node was reset/,
    );
    expect(f?.details).toContain(
      '`compute.cmp-1` (nova-compute RPC): members `rabbit1@localhost`, `rabbit2@localhost`; leader `rabbit3@localhost`',
    );
    expect(f?.data).toMatchObject({ gap: 'missing', node: R3, queueCount: 7, rpc: 6, notifications: 1, other: 0 });
  });

  it('reports members offline per node: the captured cluster with node 3 stopped', () => {
    const snapshot = scenarioSnapshot('node-stopped', ['nodes', 'queues'], '4.0');
    const findings = quorumMembersCheck.evaluate(snapshot, checkContext());
    expect(findings.map((f) => f.subject)).toEqual([`offline:${R3}`]);
    expect(findings[0]?.summary).toBe(`5 quorum queue(s) have their member on \`${R3}\` offline`);
  });

  it('judges against a target size below the cluster’s size', () => {
    const twoMembers = kolla(without(R3));
    expect(quorumMembersCheck.evaluate(twoMembers, checkContext({ quorumTargetSize: 2 }))).toEqual([]);
    const oneMember = kolla((q) => ({ ...q, members: [R1], online: [R1] }));
    const findings = quorumMembersCheck.evaluate(oneMember, checkContext({ quorumTargetSize: 2 }));
    expect(findings.map((f) => f.subject)).toEqual(['below-target']);
    expect(findings[0]?.summary).toBe('7 quorum queue(s) have fewer than 2 members (the target size)');
  });
});

describe('quorum-forgotten-members check', () => {
  it('reports members on a node the cluster does not list, and nothing on a healthy cluster', () => {
    expect(quorumForgottenMembersCheck.evaluate(kolla(), checkContext())).toEqual([]);
    const gone = 'rabbit@old-host';
    const snapshot = kolla((q) => (q.name === 'compute' ? { ...q, members: [...(q.members ?? []), gone] } : q));
    const findings = quorumForgottenMembersCheck.evaluate(snapshot, checkContext());
    expect(findings.map((f) => [f.subject, f.summary])).toEqual([
      [`forgotten:${gone}`, `1 quorum queue(s) have a member on \`${gone}\`, which is not in the cluster`],
    ]);
    // The forgotten member is not counted as a member of the cluster's size either.
    expect(quorumMembersCheck.evaluate(snapshot, checkContext())).toEqual([]);
  });
});

describe('queueTraffic', () => {
  it('names the service of well-known RPC topics and counts notifications apart', () => {
    expect(queueTraffic('compute.cmp-1')).toEqual({ traffic: 'rpc', service: 'nova-compute' });
    expect(queueTraffic('l3_agent_fanout_cmp-1:neutron-l3-agent:1')).toEqual({
      traffic: 'rpc',
      service: 'neutron-l3-agent',
    });
    expect(queueTraffic('ironic.conductor_manager.host-1')).toEqual({ traffic: 'rpc', service: 'ironic-conductor' });
    expect(queueTraffic('reply_cmp-1:nova-compute:1')).toEqual({ traffic: 'rpc' });
    expect(queueTraffic('notifications.error')).toEqual({ traffic: 'notifications' });
    expect(queueTraffic('billing')).toEqual({ traffic: 'other' });
  });
});
