/**
 * The run store's transitions against a real Redis: the two-person rule, two approvers for critical runs, the
 * deadline, and a burst of simultaneous clicks (as from a double click or two replicas) approving exactly once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RunStore } from '../../src/remediation/run-store.js';
import type { RunRequest } from '../../src/remediation/workflow-run.js';
import { flushHarnessRedis, harnessKeys } from '../support/warren-harness.js';

const KEYS = harnessKeys('remediation-run-store');

const NOW = Date.parse('2026-12-01T21:00:00Z');

function request(id: string, approvalsNeeded: number): RunRequest {
  return {
    id,
    workflow: 'heal-partition',
    cluster: 'default',
    args: {},
    risk: approvalsNeeded === 2 ? 'critical' : 'medium',
    requester: 'U0REQ',
    channel: 'C0OPS',
    createdAt: NOW,
    expiresAt: NOW + 60_000,
    approvalsNeeded,
    plan: { summary: 'restart 1 node', warnings: [], actions: [], guards: [] },
  };
}

describe('RunStore', () => {
  const stack = inject('stack');
  let redis: Redis;
  let store: RunStore;

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    redis = new Redis(stack.redisUrl);
    store = new RunStore(redis, `${KEYS}remediation:`);
  });

  afterAll(() => redis?.disconnect());

  it('needs two distinct approvers other than the requester for a critical run', async () => {
    await store.create(request('r-00000001', 2), 'pending', 'test');
    expect(await store.approve('r-00000001', 'U0REQ', NOW + 1, 'test')).toBe('self');
    expect(await store.approve('r-00000001', 'U0ANNA', NOW + 2, 'test')).toBe('recorded');
    expect(await store.approve('r-00000001', 'U0ANNA', NOW + 3, 'test')).toBe('again');
    expect((await store.get('r-00000001'))?.status).toBe('pending');
    expect(await store.approve('r-00000001', 'U0BORIS', NOW + 4, 'test')).toBe('approved');
    expect(await store.approve('r-00000001', 'U0CARL', NOW + 5, 'test')).toBe('status:approved');
    const run = await store.get('r-00000001');
    expect(run?.approvals.map((a) => a.user)).toEqual(['U0ANNA', 'U0BORIS']);
    expect(await store.orphaned()).not.toContain('r-00000001');
  });

  it('approves exactly once when many clicks arrive at the same moment', async () => {
    await store.create(request('r-00000002', 1), 'pending', 'test');
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.approve('r-00000002', `U0APP${i % 4}`, NOW + 1, 'test')),
    );
    expect(outcomes.filter((o) => o === 'approved')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(0);
  });

  it('refuses approval past the deadline and marks the run expired', async () => {
    await store.create(request('r-00000003', 1), 'pending', 'test');
    expect(await store.expiredPending(NOW + 30_000)).not.toContain('r-00000003');
    expect(await store.expiredPending(NOW + 60_000)).toContain('r-00000003');
    expect(await store.approve('r-00000003', 'U0ANNA', NOW + 60_000, 'test')).toBe('expired');
    expect((await store.get('r-00000003'))?.status).toBe('expired');
    expect(await store.transition('r-00000003', ['pending'], 'rejected', NOW + 60_001)).toBe('status:expired');
  });

  it('reports a running run whose executor stopped renewing its lease', async () => {
    await store.create(request('r-00000004', 0), 'running', 'test');
    expect(await store.orphaned()).not.toContain('r-00000004');
    await redis.del(`${KEYS}remediation:lease:r-00000004`);
    expect(await store.orphaned()).toContain('r-00000004');
    expect(await store.transition('r-00000004', ['running'], 'interrupted', NOW)).toBe('ok');
    expect(await store.orphaned()).not.toContain('r-00000004');
  });

  it('interrupts an orphan only while its lease is absent, and then its executor can no longer hold it', async () => {
    await store.create(request('r-00000005', 0), 'running', 'executor-a');
    expect(await store.holdLease('r-00000005', 'executor-a')).toBe(true);
    expect(await store.holdLease('r-00000005', 'executor-b')).toBe(false);
    await redis.del(`${KEYS}remediation:lease:r-00000005`);
    // The executor renewed between the sweep's look and its transition: the run stays its own.
    expect(await store.orphaned()).toContain('r-00000005');
    expect(await store.holdLease('r-00000005', 'executor-a')).toBe(true);
    expect(await store.interruptOrphan('r-00000005', NOW, { outcome: 'stopped' })).toBe('leased');
    expect((await store.get('r-00000005'))?.status).toBe('running');

    await redis.del(`${KEYS}remediation:lease:r-00000005`);
    expect(await store.interruptOrphan('r-00000005', NOW, { outcome: 'stopped' })).toBe('ok');
    expect((await store.get('r-00000005'))?.outcome).toBe('stopped');
    expect(await store.holdLease('r-00000005', 'executor-a')).toBe(false);
    expect(await store.interruptOrphan('r-00000005', NOW, { outcome: 'again' })).toBe('status:interrupted');
    // Resumed elsewhere: the new executor holds it, the old one still cannot, nor can a second resume take it.
    expect(await store.resume('r-00000005', 'executor-b', NOW)).toBe('ok');
    expect(await store.resume('r-00000005', 'executor-c', NOW)).toBe('status:approved');
    expect(await store.orphaned()).not.toContain('r-00000005');
    expect(await store.transition('r-00000005', ['approved'], 'running', NOW)).toBe('ok');
    expect(await store.holdLease('r-00000005', 'executor-a')).toBe(false);
    expect(await store.holdLease('r-00000005', 'executor-b')).toBe(true);
  });
});
