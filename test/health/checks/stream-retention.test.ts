import { describe, expect, it } from 'vitest';
import { streamRetentionCheck } from '../../../src/health/checks/stream-retention.js';
import type { PolicyInfo, StreamReplicas } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureStream, snapshotOf } from '../../support/snapshot-fixtures.js';

// oslo 16's `scheduler_fanout` stream as RabbitMQ 4.0.5 reports it: `x-max-age` 1800s, no policy.
const stream = () => fixtureStream('kolla-queue-stream.json');
const evaluate = (streams: StreamReplicas[], policies: PolicyInfo[] = []) =>
  streamRetentionCheck.evaluate(snapshotOf({ streams, policies }), checkContext());
const unbounded = (): StreamReplicas => ({ ...stream(), arguments: { 'x-queue-type': 'stream' } });

describe('stream-retention check', () => {
  it("is silent on oslo's stream fanout, which sets x-max-age", () => {
    expect(stream().arguments['x-max-age']).toBe('1800s');
    expect(evaluate([stream()])).toEqual([]);
  });

  it('names a stream with no retention argument and no retention policy', () => {
    const [finding, ...rest] = evaluate([unbounded()]);
    expect(rest).toEqual([]);
    expect(finding?.subject).toBe('//scheduler_fanout');
    expect(finding?.summary).toContain('Stream `scheduler_fanout` has no retention limit');
    expect(finding?.details?.join('\n')).toContain('--apply-to streams');
  });

  it('counts x-max-length-bytes, and max-age or max-length-bytes in the effective policy', () => {
    expect(evaluate([{ ...unbounded(), arguments: { 'x-max-length-bytes': 20_000_000_000 } }])).toEqual([]);
    expect(evaluate([{ ...unbounded(), policy: 'streams', effectivePolicy: { 'max-age': '1h' } }])).toEqual([]);
    expect(evaluate([{ ...unbounded(), policy: 'streams', effectivePolicy: { 'max-length-bytes': 1e10 } }])).toEqual(
      [],
    );
    // Without the broker's resolution, the listed policy of that name is read
    const policy: PolicyInfo = {
      vhost: '/',
      name: 'streams',
      pattern: '_fanout$',
      'apply-to': 'streams',
      definition: { 'max-age': '1h' },
      priority: 0,
    } as PolicyInfo;
    const { effectivePolicy: _resolved, ...unresolved } = unbounded();
    expect(evaluate([{ ...unresolved, policy: 'streams' }], [policy])).toEqual([]);
    // A policy with other keys bounds nothing
    expect(evaluate([{ ...unbounded(), policy: 'p', effectivePolicy: { 'max-length': 5 } }])).toHaveLength(1);
  });
});
