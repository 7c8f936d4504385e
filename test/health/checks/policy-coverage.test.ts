import { describe, expect, it } from 'vitest';
import { policyCoverageCheck } from '../../../src/health/checks/policy-coverage.js';
import type { ClusterSnapshot, QueueInfo } from '../../../src/health/cluster-snapshot.js';
import {
  checkContext,
  fixturePolicies,
  fixtureQueuesWithConsumers,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

// Policies on the captured cluster: `ha-rpc` (ha-mode exactly 2) on `^(compute|scheduler)$`, `reply-expiry`
// (expires 30 min) on `^reply_` and `notifications-ttl` on notification queues, all in vhost `/`; `cinder-scheduler`
// is a quorum queue.
const HA_PATTERN = /^(compute|scheduler|conductor|cinder-scheduler|notifications\..+)$/;

const policyQueues = () => fixtureQueuesWithConsumers('policy-queues.json', 'policy-consumers.json');
const snapshot = (queues: QueueInfo[] = policyQueues()) =>
  snapshotOf({ queues, policies: fixturePolicies('policies.json') });
const evaluate = (s: ClusterSnapshot, haPattern?: RegExp) =>
  policyCoverageCheck.evaluate(s, { ...checkContext(), haPattern });

describe('policy-coverage check', () => {
  it('reports queues matching the HA pattern that are neither mirrored nor quorum, per vhost', () => {
    const ha = evaluate(snapshot(), HA_PATTERN).find((f) => f.subject === 'ha:/');
    expect(ha).toMatchObject({
      check: 'policy-coverage',
      severity: 'info',
      summary:
        '2 queues in vhost `/` match the HA pattern but are neither mirrored nor quorum: `conductor`, `notifications.info`',
      data: {
        kind: 'ha',
        vhost: '/',
        count: 2,
        queues: ['conductor', 'notifications.info'],
        haPattern: HA_PATTERN.source,
      },
    });
    expect(ha?.details).toContain('Policy in effect: none for 1, `notifications-ttl` for 1');
    expect(ha?.details?.join('\n')).toContain('add the key to `notifications-ttl`');
  });

  it('on RabbitMQ 4 counts no ha-mode policy as replication, and says to declare quorum queues', () => {
    const v4 = policyCoverageCheck.evaluate(snapshot(), {
      ...checkContext(),
      haPattern: HA_PATTERN,
      version: { raw: '4.0.5', major: 4, minor: 0, patch: 5 },
    });
    const ha = v4.find((f) => f.subject === 'ha:/');
    // `compute` and `scheduler` are covered by `ha-rpc` on 3.x; on 4.0 that policy replicates nothing.
    expect(ha?.data?.queues).toEqual(['compute', 'conductor', 'notifications.info', 'scheduler']);
    expect(ha?.summary).toBe(
      '4 queues in vhost `/` match the HA pattern but are classic queues, which RabbitMQ 4 does not replicate: ' +
        '`compute`, `conductor`, `notifications.info`, `scheduler`',
    );
    expect(ha?.details?.join('\n')).toContain('`rabbit_quorum_queue = true`');
  });

  it('reports fanout and reply queues that never expire, counting policy expiry', () => {
    const findings = evaluate(snapshot());
    expect(findings.map((f) => f.subject)).toEqual(['expiry:/', 'expiry:openstack']);
    // The reply queues in `/` without x-expires are covered by `reply-expiry`; the scheduler zombie is not.
    expect(findings[0]).toMatchObject({
      summary: '1 fanout/reply queue in vhost `/` never expires: `scheduler_fanout_a3a849377ca54775a69cb9d2c82fbf34`',
      data: {
        kind: 'expiry',
        vhost: '/',
        count: 1,
        suggestedPolicy: { pattern: '(_fanout_|^reply_)', applyTo: 'queues', definition: { expires: 1_800_000 } },
      },
    });
    expect(findings[1]?.data).toMatchObject({ vhost: 'openstack', queues: ['reply_storage1:cinder-volume:2'] });
  });

  it('judges only expiry without an HA pattern', () => {
    expect(evaluate(snapshot()).every((f) => f.data?.kind === 'expiry')).toBe(true);
  });

  it('counts the queues the policies do not cover before they were set', () => {
    const before = snapshotOf({
      queues: fixtureQueuesWithConsumers('zombie-queues.json', 'zombie-consumers.json'),
      policies: [],
    });
    const root = evaluate(before).find((f) => f.subject === 'expiry:/');
    expect(root?.data).toMatchObject({
      count: 3,
      queues: [
        'reply_0566fa56885b47bc9ec5a0b4bf57bffc',
        'reply_aec8fa41bb224fd2911261c0bcbb74c0',
        'scheduler_fanout_a3a849377ca54775a69cb9d2c82fbf34',
      ],
    });
  });

  it('caps the list and gives the count', () => {
    const many = Array.from(
      { length: 12 },
      (_, i): QueueInfo => ({
        name: `compute_fanout_${i.toString(16).padStart(32, '0')}`,
        vhost: '/',
        type: 'classic',
        arguments: {},
        messages: 0,
        messages_ready: 0,
        messages_unacknowledged: 0,
        consumers: 1,
      }),
    );
    const [finding] = evaluate(snapshotOf({ queues: many, policies: [] }));
    expect(finding?.summary).toMatch(
      /^12 fanout\/reply queues in vhost `\/` never expire: (`[^`]+`, ){4}`[^`]+` and 7 more$/,
    );
    expect(finding?.data).toMatchObject({ count: 12 });
  });

  it('leaves exclusive queues and covered queues alone', () => {
    const queues = policyQueues().map((q) => (q.name === 'conductor' ? { ...q, exclusive: true } : q));
    const ha = evaluate(snapshot(queues), HA_PATTERN).find((f) => f.subject === 'ha:/');
    expect(ha?.data?.queues).toEqual(['notifications.info']);
    expect(evaluate(snapshot(), /^(compute|scheduler|cinder-scheduler)$/).map((f) => f.subject)).not.toContain('ha:/');
  });

  it('needs the policies and offers the policy workflow', () => {
    expect(policyCoverageCheck).toMatchObject({ workflow: 'apply-policy', needs: ['queues', 'policies'] });
  });
});
