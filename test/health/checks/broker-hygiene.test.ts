/**
 * broker-hygiene over the answers of a real RabbitMQ 4.0.5 cluster in the kolla layout (test/fixtures/rabbitmq-4.0),
 * where every stable feature flag is enabled (a fresh 4.0 cluster enables them all: only the experimental
 * `khepri_db` is off, which is no finding) and one oslo service still runs in classic mode (`l3_agent`). A disabled
 * stable flag, a deprecated feature in use and mixed versions cannot be produced on the test cluster (flags cannot be
 * disabled once enabled, and all nodes run one build), so those are judged on the captured answers, altered.
 */
import { describe, expect, it } from 'vitest';
import { brokerHygieneCheck } from '../../../src/health/checks/broker-hygiene.js';
import { snapshotVersion } from '../../../src/health/cluster-snapshot.js';
import { featureFlagSchema } from '../../../src/management/schemas.js';
import {
  checkContext,
  fixtureEndpoints,
  fixtureNodes,
  fixtureQueuesWithConsumers,
  readFixture,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

function kolla(overrides = {}) {
  return snapshotOf({
    nodes: fixtureNodes('kolla-nodes.json', '4.0'),
    queues: fixtureQueuesWithConsumers('kolla-queues.json', 'kolla-consumers.json', '4.0'),
    endpoints: fixtureEndpoints('kolla-endpoints.json', '4.0'),
    featureFlags: featureFlagSchema.array().parse(readFixture('kolla-feature-flags.json', '4.0')),
    ...overrides,
  });
}

function judge(snapshot: ReturnType<typeof kolla>) {
  const version = snapshotVersion(snapshot);
  return brokerHygieneCheck.evaluate(snapshot, { ...checkContext(), ...(version ? { version } : {}) });
}

describe('broker-hygiene', () => {
  it('on the captured kolla layout: only the classic-mode oslo service, with the option that fixes it', () => {
    const findings = judge(kolla());
    expect(findings.map((f) => f.subject)).toEqual(['classic-rpc:/', 'classic-transient:/']);
    expect(findings[0]).toMatchObject({ severity: 'warning', data: { queues: 3, option: 'rabbit_quorum_queue' } });
    expect(findings[0]?.details?.[0]).toBe('`l3_agent`, `l3_agent.net-1`, `l3_agent.net-2`');
    expect(findings[1]).toMatchObject({
      severity: 'info',
      data: { queues: 2, option: 'rabbit_transient_quorum_queue' },
    });
  });

  it('reports a stable flag left disabled, never an experimental one', () => {
    const flags = featureFlagSchema.array().parse(readFixture('kolla-feature-flags.json', '4.0'));
    const stable = flags.find((f) => f.stability === 'stable' && f.state === 'enabled');
    if (!stable) throw new Error('the capture has no enabled stable flag');
    const altered = flags.map((f) => (f === stable ? { ...f, state: 'disabled' } : f));
    const findings = judge(kolla({ featureFlags: altered })).filter((f) => f.subject.startsWith('feature-flag:'));
    expect(findings.map((f) => f.subject)).toEqual([`feature-flag:${stable.name}`]);
    expect(findings[0]?.details?.join('\n')).toContain(`rabbitmqctl enable_feature_flag ${stable.name}`);
  });

  it('reports deprecated features in use and nodes on different versions', () => {
    const endpoints = fixtureEndpoints('kolla-endpoints.json', '4.0').map((e, i) =>
      i === 2 ? { ...e, erlangVersion: '26.2.5' } : e,
    );
    const findings = judge(
      kolla({ endpoints, deprecatedFeatures: [{ name: 'transient_nonexcl_queues', phase: 'permitted_by_default' }] }),
    );
    expect(findings.map((f) => f.subject)).toContain('deprecated:transient_nonexcl_queues');
    const erlang = findings.find((f) => f.subject === 'versions:erlang');
    expect(erlang?.summary).toBe('Nodes run different Erlang versions: 26.2.5, 27.3.4.1');
    expect(findings.some((f) => f.subject === 'versions:rabbitmq')).toBe(false);
  });

  it('does not judge classic queues before 4.0, where they can still be mirrored', () => {
    const snapshot = kolla();
    const findings = brokerHygieneCheck.evaluate(snapshot, {
      ...checkContext(),
      version: { raw: '3.13.7', major: 3, minor: 13, patch: 7 },
    });
    expect(findings.filter((f) => f.subject.startsWith('classic-'))).toEqual([]);
  });
});
