import { describe, expect, it } from 'vitest';
import { stuckConsumersCheck } from '../../../src/health/checks/stuck-consumers.js';
import type { ClusterSnapshot, QueueInfo } from '../../../src/health/cluster-snapshot.js';
import type { CheckContext } from '../../../src/health/health-check.js';
import {
  checkContext,
  fixtureQueues,
  fixtureQueuesWithConsumers,
  historyOf,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

// Four sweeps of a scheduler whose consumer never acks (unlimited prefetch): unacked 150 → 210 → 270 → 330; the hung
// conductor holds a steady 10 (its prefetch).
const growth = (n: number) => fixtureQueuesWithConsumers(`growth-queues-${n}.json`, 'growth-consumers.json');
const evaluate = (snapshot: ClusterSnapshot, context: CheckContext) => stuckConsumersCheck.evaluate(snapshot, context);
const withHistory = (listings: QueueInfo[][], overrides = {}) => ({
  ...checkContext(overrides),
  history: historyOf(listings),
});

describe('stuck-consumers check', () => {
  it('reports a consumed queue whose unacked count keeps rising', () => {
    const findings = evaluate(snapshotOf({ queues: growth(4) }), withHistory([growth(1), growth(2), growth(3)]));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      check: 'stuck-consumers',
      severity: 'warning',
      subject: '//scheduler',
      summary: '`scheduler` has 330 unacknowledged messages and rising, held by 1 consumer',
      data: { vhost: '/', name: 'scheduler', consumers: 1, unacked: 330, ready: 0 },
    });
    expect(findings[0]?.details?.[0]).toBe('Unacknowledged over the last sweeps: 150 → 210 → 270 → 330');
  });

  it('needs the rise on each of the last growthSweeps sweeps', () => {
    expect(evaluate(snapshotOf({ queues: growth(4) }), checkContext())).toEqual([]);
    expect(evaluate(snapshotOf({ queues: growth(4) }), withHistory([growth(2), growth(3)]))).toEqual([]);
    // flat: the same count for four sweeps is a busy consumer, not a stuck one
    expect(evaluate(snapshotOf({ queues: growth(4) }), withHistory([growth(4), growth(4), growth(4)]))).toEqual([]);
  });

  it('follows the unacked threshold', () => {
    const context = withHistory([growth(1), growth(2), growth(3)], { stuckUnacked: 330 });
    expect(evaluate(snapshotOf({ queues: growth(4) }), context)).toEqual([]);
  });

  it('leaves queues without consumers to the other checks', () => {
    const queues = growth(4).map((q) => (q.name === 'scheduler' ? { ...q, consumers: 0 } : q));
    expect(evaluate(snapshotOf({ queues }), withHistory([growth(1), growth(2), growth(3)]))).toEqual([]);
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(snapshotOf({ queues: fixtureQueues('healthy-queues.json') }), checkContext())).toEqual([]);
  });

  it('leaves streams out: what a stream consumer read stays in the stream', () => {
    // The captured kolla stream, read by both schedulers, given an unacked count rising past the threshold
    const at = (unacked: number) =>
      fixtureQueues('kolla-queues-stats.json', {}, '4.0').map((q) =>
        q.name === 'scheduler_fanout' ? { ...q, messages_unacknowledged: unacked } : q,
      );
    const history = withHistory([at(150), at(210), at(270)]);
    expect(evaluate(snapshotOf({ queues: at(330) }), history)).toEqual([]);
    const asQuorum = at(330).map((q) => (q.name === 'scheduler_fanout' ? { ...q, type: 'quorum' } : q));
    expect(evaluate(snapshotOf({ queues: asQuorum }), history).map((f) => f.subject)).toEqual(['//scheduler_fanout']);
  });
});
