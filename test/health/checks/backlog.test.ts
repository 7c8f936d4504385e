import { describe, expect, it } from 'vitest';
import { backlogCheck, roseOnEachSweep } from '../../../src/health/checks/backlog.js';
import type { ClusterSnapshot, QueueInfo } from '../../../src/health/cluster-snapshot.js';
import type { CheckContext, QueueSample } from '../../../src/health/health-check.js';
import {
  checkContext,
  fixtureQueues,
  fixtureQueuesWithConsumers,
  historyOf,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

// Captured with 600 unread `notifications.info` messages, a hung conductor (prefetch 10, never acks, 800 ready),
// the zombie fanout queue of the zombie scenario (640 messages) and a few small queues.
const backlogQueues = () => fixtureQueuesWithConsumers('backlog-queues.json', 'backlog-consumers.json');
const evaluate = (snapshot: ClusterSnapshot, context: CheckContext = checkContext()) =>
  backlogCheck.evaluate(snapshot, context);
// Four sweeps: q-plugin's ready count 40 → 90 → 140 → 190, q-l3-plugin's 10 → 20 → 30 → 30.
const growth = (n: number) => fixtureQueuesWithConsumers(`growth-queues-${n}.json`, 'growth-consumers.json');

describe('backlog check', () => {
  it('reports queues above the threshold, once each', () => {
    const findings = evaluate(snapshotOf({ queues: backlogQueues() }));
    expect(findings.map((f) => f.subject)).toEqual(['//conductor', '//notifications.info']);
    expect(findings[0]).toMatchObject({
      check: 'backlog',
      severity: 'warning',
      summary: '`conductor` holds 800 ready messages, 1 consumer',
      data: {
        vhost: '/',
        name: 'conductor',
        ready: 800,
        unacked: 10,
        consumers: 1,
        growing: false,
        notifications: false,
      },
    });
    expect(findings[0]?.details).toEqual([
      'Its consumers are not keeping up or are hung: restart the component that reads it',
      '10 more are unacknowledged',
    ]);
  });

  it('says nothing consumes an unread notification queue and gives the three remedies', () => {
    const finding = evaluate(snapshotOf({ queues: backlogQueues() })).find((f) => f.subject === '//notifications.info');
    expect(finding?.summary).toBe(
      'Notification queue `notifications.info` holds 600 ready messages and nothing consumes it',
    );
    const details = finding?.details?.join('\n') ?? '';
    expect(details).toContain('consume it');
    expect(details).toContain('driver = noop');
    expect(details).toContain('`max-length` or `message-ttl` policy');
    expect(finding?.data).toMatchObject({ notifications: true, consumers: 0, policyPattern: '^notifications\\.' });
    expect(backlogCheck.workflow).toBe('apply-policy');
  });

  it('does not report a zombie fanout queue again', () => {
    const zombie = backlogQueues().find((q) => q.name === 'compute_fanout_669e2a65df444336b3234276fd9e4662');
    expect(zombie).toMatchObject({ messages_ready: 640, consumers: 0 });
    expect(evaluate(snapshotOf({ queues: backlogQueues() })).map((f) => f.subject)).not.toContain(
      '//compute_fanout_669e2a65df444336b3234276fd9e4662',
    );
  });

  it('reports a consumed fanout queue that falls behind', () => {
    const queues = backlogQueues().map((q) =>
      q.name === 'compute_fanout_669e2a65df444336b3234276fd9e4662' ? { ...q, consumers: 1 } : q,
    );
    expect(evaluate(snapshotOf({ queues })).map((f) => f.subject)).toContain(
      '//compute_fanout_669e2a65df444336b3234276fd9e4662',
    );
  });

  it('follows the threshold', () => {
    expect(
      evaluate(snapshotOf({ queues: backlogQueues() }), checkContext({ backlogMessages: 800 })).map((f) => f.subject),
    ).toEqual([]);
  });

  it('reports a small queue whose ready count rose on each of the last growthSweeps sweeps', () => {
    const context = { ...checkContext(), history: historyOf([growth(1), growth(2), growth(3)]) };
    const findings = evaluate(snapshotOf({ queues: growth(4) }), context);
    expect(findings.map((f) => f.subject)).toEqual(['//conductor', '//notifications.info', '//q-plugin']);
    const plugin = findings.find((f) => f.subject === '//q-plugin');
    expect(plugin).toMatchObject({
      summary: '`q-plugin` holds 190 ready messages and rising, no consumer',
      data: { ready: 190, growing: true, consumers: 0 },
    });
    expect(plugin?.details).toContain('Ready over the last sweeps: 40 → 90 → 140 → 190');
  });

  it('needs a rise on every one of the last growthSweeps sweeps', () => {
    // q-l3-plugin stalled on the last sweep (30 → 30); with two earlier sweeps only, q-plugin rose twice, not three times
    const stalled = evaluate(snapshotOf({ queues: growth(4) }), {
      ...checkContext(),
      history: historyOf([growth(1), growth(2), growth(3)]),
    });
    expect(stalled.map((f) => f.subject)).not.toContain('//q-l3-plugin');
    const short = evaluate(snapshotOf({ queues: growth(4) }), {
      ...checkContext(),
      history: historyOf([growth(2), growth(3)]),
    });
    expect(short.map((f) => f.subject)).not.toContain('//q-plugin');
    const twoSweeps = evaluate(snapshotOf({ queues: growth(4) }), {
      ...checkContext({ growthSweeps: 2 }),
      history: historyOf([growth(2), growth(3)], 2),
    });
    expect(twoSweeps.map((f) => f.subject)).toContain('//q-plugin');
  });

  it('never reports a queue with nothing ready, however its unacked count grows', () => {
    // scheduler: 0 ready, unacked 150 → 210 → 270 → 330 (that is the stuck-consumers check's)
    const context = { ...checkContext(), history: historyOf([growth(1), growth(2), growth(3)]) };
    expect(evaluate(snapshotOf({ queues: growth(4) }), context).map((f) => f.subject)).not.toContain('//scheduler');
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(snapshotOf({ queues: fixtureQueues('healthy-queues.json') }))).toEqual([]);
  });
});

describe('roseOnEachSweep', () => {
  const samples = (...ready: number[]): QueueSample[] =>
    ready.map((r, i) => ({ at: i, messages: r, ready: r, unacked: 0 }));
  const ready = (s: QueueSample) => s.ready;

  it('wants that many strictly rising steps ending at the current value', () => {
    expect(roseOnEachSweep(samples(1, 2, 3), 4, 3, ready)).toBe(true);
    expect(roseOnEachSweep(samples(9, 1, 2, 3), 4, 3, ready)).toBe(true);
    expect(roseOnEachSweep(samples(1, 2, 3), 3, 3, ready)).toBe(false);
    expect(roseOnEachSweep(samples(1, 3, 2), 4, 3, ready)).toBe(false);
    expect(roseOnEachSweep(samples(2, 3), 4, 3, ready)).toBe(false);
    expect(roseOnEachSweep(undefined, 4, 3, ready)).toBe(false);
  });

  it('reads the history the sweep stores (only queues holding messages)', () => {
    const q = (ready: number): QueueInfo[] => [
      {
        name: 'q',
        vhost: '/',
        type: 'classic',
        arguments: {},
        messages: ready,
        messages_ready: ready,
        messages_unacknowledged: 0,
        consumers: 0,
      },
    ];
    // the queue was empty two sweeps ago, so its history restarts after that sweep
    const history = historyOf([q(5), q(0), q(6), q(7)]);
    expect(history.get('//q')?.map(ready)).toEqual([6, 7]);
    expect(roseOnEachSweep(history.get('//q'), 8, 3, ready)).toBe(false);
  });

  it('never calls a stream a backlog, even with depths (stats listing, Prometheus) and growing', () => {
    // The captured kolla layout's stats listing: the `scheduler_fanout` stream holds 4,000 retained casts, read by
    // both schedulers; here it also grew on each sweep, as a stream does while casts go on.
    const queues = fixtureQueues('kolla-queues-stats.json', {}, '4.0');
    const stream = queues.find((q) => q.name === 'scheduler_fanout');
    expect(stream).toMatchObject({ type: 'stream', messages: 4000 });
    const earlier = [1000, 2000, 3000].map((n) => queues.map((q) => (q === stream ? { ...q, messages_ready: n } : q)));
    const findings = evaluate(snapshotOf({ queues }), { ...checkContext(), history: historyOf(earlier) });
    expect(findings.map((f) => f.subject)).not.toContain('//scheduler_fanout');
    // the same depths on a classic queue are a backlog: the test can fail
    const classic = queues.map((q) => (q === stream ? { ...q, type: 'classic' } : q));
    expect(
      evaluate(snapshotOf({ queues: classic }), { ...checkContext(), history: historyOf(earlier) }).map(
        (f) => f.subject,
      ),
    ).toContain('//scheduler_fanout');
  });
});
