import { describe, expect, it } from 'vitest';
import { type CheckResult, outcomeOf, runChecks } from '../../src/health/check-run.js';
import { allChecks } from '../../src/health/checks/index.js';
import { mirrorSyncCheck } from '../../src/health/checks/mirror-sync.js';
import { quorumCheck } from '../../src/health/checks/quorum.js';
import type { ClusterSnapshot } from '../../src/health/cluster-snapshot.js';
import { healthReport } from '../../src/health/health-format.js';
import type { ManagementNode } from '../../src/management/schemas.js';
import { checkContext, fixtureEndpoints, fixtureQueues, snapshotOf } from '../support/snapshot-fixtures.js';

const nodesOn = (...versions: string[]): ManagementNode[] =>
  versions.map((version, i) => ({
    name: `rabbit${i + 1}@localhost`,
    running: true,
    partitions: [],
    applications: [{ name: 'rabbit', version }],
  }));

// The real 3.10 capture of mirrors that joined after their messages (see mirror-sync.test.ts).
const unsyncedOn = (nodes: ManagementNode[] | undefined, errors: ClusterSnapshot['errors'] = {}) =>
  snapshotOf({
    nodes,
    queues: fixtureQueues('unsynced-mirror-queues.json'),
    endpoints: fixtureEndpoints('unsynced-mirror-endpoints.json'),
    errors,
  });

/** The outcome, or undefined for a result that is missing (which fails the expectation). */
const outcome = (result: CheckResult | undefined) => (result ? outcomeOf(result) : undefined);

const run = (snapshot: ClusterSnapshot) => runChecks([mirrorSyncCheck, quorumCheck], snapshot, checkContext());

describe('running the checks: passed, not applicable, could not run', () => {
  it('judges mirrors on RabbitMQ 3.10', () => {
    const [mirror, quorum] = run(unsyncedOn(nodesOn('3.10.8', '3.10.8', '3.10.8')));
    expect(outcome(mirror)).toBe('found');
    expect(outcome(quorum)).toBe('passed');
  });

  it('reports mirror sync as not applicable on RabbitMQ 4.0, never as passed or could not run', () => {
    const [mirror, quorum] = run(unsyncedOn(nodesOn('4.0.5', '4.0.5', '4.0.5')));
    expect(mirror).toMatchObject({ notApplicable: 'not applicable on RabbitMQ 4.0' });
    expect(mirror?.findings).toBeUndefined();
    expect(outcome(mirror)).toBe('not_applicable');
    expect(outcome(quorum)).toBe('passed');
  });

  it('takes the oldest running node: a cluster mid-upgrade still has mirrors', () => {
    const [mirror] = run(unsyncedOn(nodesOn('4.0.5', '3.13.7', '4.0.5')));
    expect(outcome(mirror)).toBe('found');
  });

  it('falls back to the versions the management URLs told when /api/nodes failed', () => {
    const snapshot = unsyncedOn(undefined, { nodes: 'timeout of 10000ms exceeded' });
    snapshot.endpoints = snapshot.endpoints.map((e) => ({ ...e, version: '4.0.5' }));
    expect(outcome(run(snapshot)[0])).toBe('not_applicable');
  });

  it('could not run a version-bound check when no version is known, and says why', () => {
    const [mirror, quorum] = run(unsyncedOn(undefined, { nodes: 'timeout of 10000ms exceeded' }));
    expect(mirror?.skipped).toBe('the broker version is unknown (nodes: timeout of 10000ms exceeded)');
    expect(outcome(mirror)).toBe('could_not_run');
    expect(outcome(quorum)).toBe('passed');
  });

  it('counts the three outcomes apart in /rabbit health', () => {
    const snapshot = unsyncedOn(nodesOn('4.0.5', '4.0.5', '4.0.5'));
    snapshot.errors = { connections: 'HTTP 500' };
    const results = runChecks(allChecks, snapshot, checkContext());
    const [head, ...sections] = healthReport('local', results);
    const applicable = results.filter((r) => outcomeOf(r) !== 'not_applicable');
    const passed = results.filter((r) => outcomeOf(r) === 'passed').length;
    const couldNot = results.filter((r) => outcomeOf(r) === 'could_not_run').length;
    expect(applicable.length).toBe(results.length - 1);
    expect(couldNot).toBeGreaterThan(0);
    expect(head).toContain(`${passed} check(s) passed · 1 not applicable · ${couldNot} could not run`);
    expect(sections).toContain(':heavy_minus_sign: *Unsynchronised mirrors*: not applicable on RabbitMQ 4.0');
    expect(sections.filter((s) => s.includes('could not run'))).toHaveLength(couldNot);
  });
});
