/**
 * Workflow runs in Redis. Per run, a hash `run:<id>` (the request as JSON plus the fields the lifecycle changes)
 * and a hash `run:<id>:approvals` (user → time). `pending` orders runs awaiting approval by deadline, `active` holds
 * runs that are approved or running, each with a lease (`lease:<id>`) its executor renews: a run whose lease lapsed
 * belonged to a warren that died, and is marked interrupted instead of being run again blindly. An executor renews
 * only while the run is still running and the lease still its own, so once its run is interrupted it knows to stop.
 * Every status change is one Lua script that first checks the current status, so of two clicks, two replicas or a
 * click racing the expiry sweep, exactly one wins.
 */
import type { Redis } from 'ioredis';
import type { Approval, RunRequest, RunStatus, StepRecord, WorkflowRun } from './workflow-run.js';

export const LEASE_MS = 30_000;
/** Finished runs are kept this long for `/rabbit runs` and the buttons' refusals; the audit stream keeps history. */
const FINISHED_RETENTION_S = 30 * 86_400;

const APPROVE_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'pending' then return 'status:' .. status end
local expiresAt = tonumber(redis.call('HGET', KEYS[1], 'expiresAt'))
if expiresAt and tonumber(ARGV[2]) >= expiresAt then
  redis.call('HSET', KEYS[1], 'status', 'expired', 'updatedAt', ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[3])
  return 'expired'
end
if redis.call('HGET', KEYS[1], 'requester') == ARGV[1] then return 'self' end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 'again' end
if redis.call('HLEN', KEYS[2]) >= tonumber(redis.call('HGET', KEYS[1], 'approvalsNeeded')) then
  redis.call('HSET', KEYS[1], 'status', 'approved', 'updatedAt', ARGV[2])
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[3])
  redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[5])
  return 'approved'
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
return 'recorded'
`;

// ARGV: allowed current statuses (comma-separated), new status, now, id, then field/value pairs to set.
const TRANSITION_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == status then allowed = true end
end
if not allowed then return 'status:' .. status end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updatedAt', ARGV[3])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZREM', KEYS[2], ARGV[4])
if ARGV[2] == 'running' or ARGV[2] == 'approved' then
  redis.call('SADD', KEYS[3], ARGV[4])
else
  redis.call('SREM', KEYS[3], ARGV[4])
end
return 'ok'
`;

// The sweep marks a run interrupted only while its lease is absent, checked in the same script as the status, so an
// executor that renews its lease between the sweep's look and its transition keeps its run.
const INTERRUPT_SCRIPT = `if redis.call('EXISTS', KEYS[4]) == 1 then return 'leased' end\n${TRANSITION_SCRIPT}`;

// KEYS: run, lease. ARGV: owner, ttl. The executor keeps its lease only while the run is still running (or approved,
// about to run) and nobody else holds the lease: otherwise another replica took the run for an orphan, or resumed it.
const HOLD_LEASE_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' and status ~= 'approved' then return 0 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
`;

// KEYS: run, active, lease. ARGV: holder, ttl, now, id. Hands an interrupted run to a new executor: the lease is
// taken in the same step as the status, so the sweep never sees the resumed run without one, and a second click,
// refused here, cannot take the lease from the executor the first one started.
const RESUME_SCRIPT = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'interrupted' then return 'status:' .. status end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'approved', 'updatedAt', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 'ok'
`;

export type ApproveOutcome = 'approved' | 'recorded' | 'self' | 'again' | 'expired' | 'missing' | `status:${RunStatus}`;
export type TransitionOutcome = 'ok' | 'missing' | `status:${RunStatus}`;

export class RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'warren:remediation:',
  ) {
    redis.defineCommand('warrenRunApprove', { numberOfKeys: 5, lua: APPROVE_SCRIPT });
    redis.defineCommand('warrenRunTransition', { numberOfKeys: 3, lua: TRANSITION_SCRIPT });
    redis.defineCommand('warrenRunInterrupt', { numberOfKeys: 4, lua: INTERRUPT_SCRIPT });
    redis.defineCommand('warrenRunHoldLease', { numberOfKeys: 2, lua: HOLD_LEASE_SCRIPT });
    redis.defineCommand('warrenRunResume', { numberOfKeys: 3, lua: RESUME_SCRIPT });
  }

  private key(id: string): string {
    return `${this.prefix}run:${id}`;
  }

  /** Stores a new run as pending (awaiting approval) or running (low risk: no approval, the caller executes). */
  async create(request: RunRequest, status: 'pending' | 'running', owner: string): Promise<void> {
    const multi = this.redis.multi();
    multi.hset(this.key(request.id), {
      request: JSON.stringify(request),
      status,
      requester: request.requester,
      approvalsNeeded: String(request.approvalsNeeded),
      ...(request.expiresAt !== undefined ? { expiresAt: String(request.expiresAt) } : {}),
      steps: '[]',
      updatedAt: String(request.createdAt),
    });
    multi.zadd(`${this.prefix}runs`, request.createdAt, request.id);
    if (status === 'pending') multi.zadd(`${this.prefix}pending`, request.expiresAt ?? 0, request.id);
    else {
      multi.sadd(`${this.prefix}active`, request.id);
      multi.set(`${this.prefix}lease:${request.id}`, owner, 'PX', LEASE_MS);
    }
    await multi.exec();
  }

  async get(id: string): Promise<WorkflowRun | undefined> {
    const [fields, approvals] = await Promise.all([
      this.redis.hgetall(this.key(id)),
      this.redis.hgetall(`${this.key(id)}:approvals`),
    ]);
    if (!fields.request || !fields.status) return undefined;
    const request = JSON.parse(fields.request) as RunRequest;
    return {
      ...request,
      status: fields.status as RunStatus,
      approvals: Object.entries(approvals)
        .map(([user, at]): Approval => ({ user, at: Number(at) }))
        .sort((a, b) => a.at - b.at),
      closedBy: fields.closedBy,
      outcome: fields.outcome,
      steps: JSON.parse(fields.steps ?? '[]') as StepRecord[],
      message: fields.message ? (JSON.parse(fields.message) as WorkflowRun['message']) : undefined,
      updatedAt: Number(fields.updatedAt ?? request.createdAt),
    };
  }

  async setMessage(id: string, message: { channel: string; ts: string }): Promise<void> {
    await this.redis.hset(this.key(id), 'message', JSON.stringify(message));
  }

  /** Only the executor that won the transition to running writes steps, so no race is possible here. */
  async setSteps(id: string, steps: readonly StepRecord[]): Promise<void> {
    await this.redis.hset(this.key(id), 'steps', JSON.stringify(steps));
  }

  async approve(id: string, user: string, now: number, owner: string): Promise<ApproveOutcome> {
    const redis = this.redis as Redis & { warrenRunApprove(...args: (string | number)[]): Promise<ApproveOutcome> };
    return redis.warrenRunApprove(
      this.key(id),
      `${this.key(id)}:approvals`,
      `${this.prefix}pending`,
      `${this.prefix}active`,
      `${this.prefix}lease:${id}`,
      user,
      now,
      id,
      owner,
      LEASE_MS,
    );
  }

  /** Moves the run from one of `from` to `to`, setting `fields`; anything else answers with the current status. */
  async transition(
    id: string,
    from: readonly RunStatus[],
    to: RunStatus,
    now: number,
    fields: Record<string, string> = {},
  ): Promise<TransitionOutcome> {
    const redis = this.redis as Redis & {
      warrenRunTransition(...args: (string | number)[]): Promise<TransitionOutcome>;
    };
    const outcome = await redis.warrenRunTransition(
      this.key(id),
      `${this.prefix}pending`,
      `${this.prefix}active`,
      from.join(','),
      to,
      now,
      id,
      ...Object.entries(fields).flat(),
    );
    if (outcome === 'ok' && !['pending', 'approved', 'running'].includes(to)) await this.expireFinished(id);
    return outcome;
  }

  private async expireFinished(id: string): Promise<void> {
    await this.redis
      .multi()
      .expire(this.key(id), FINISHED_RETENTION_S)
      .expire(`${this.key(id)}:approvals`, FINISHED_RETENTION_S)
      .del(`${this.prefix}lease:${id}`)
      .exec();
  }

  /** Moves an interrupted run back to approved, its lease held by `holder`, the execution about to run it. */
  async resume(id: string, holder: string, now: number): Promise<TransitionOutcome> {
    const redis = this.redis as Redis & { warrenRunResume(...args: (string | number)[]): Promise<TransitionOutcome> };
    return redis.warrenRunResume(
      this.key(id),
      `${this.prefix}active`,
      `${this.prefix}lease:${id}`,
      holder,
      LEASE_MS,
      now,
      id,
    );
  }

  /**
   * Extends the executor's lease; false when the run is no longer its own to execute: it was marked interrupted
   * (the lease lapsed, say while Redis was away longer than the lease), or another replica resumed it.
   */
  async holdLease(id: string, owner: string): Promise<boolean> {
    const redis = this.redis as Redis & { warrenRunHoldLease(...args: (string | number)[]): Promise<number> };
    return (await redis.warrenRunHoldLease(this.key(id), `${this.prefix}lease:${id}`, owner, LEASE_MS)) === 1;
  }

  /** Marks an approved or running run interrupted, only if its lease is still absent; `leased` if it is not. */
  async interruptOrphan(
    id: string,
    now: number,
    fields: Record<string, string>,
  ): Promise<TransitionOutcome | 'leased'> {
    const redis = this.redis as Redis & {
      warrenRunInterrupt(...args: (string | number)[]): Promise<TransitionOutcome | 'leased'>;
    };
    const outcome = await redis.warrenRunInterrupt(
      this.key(id),
      `${this.prefix}pending`,
      `${this.prefix}active`,
      `${this.prefix}lease:${id}`,
      'approved,running',
      'interrupted',
      now,
      id,
      ...Object.entries(fields).flat(),
    );
    if (outcome === 'ok') await this.expireFinished(id);
    return outcome;
  }

  /** Runs still pending whose approval deadline has passed. */
  async expiredPending(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(`${this.prefix}pending`, '-inf', now);
  }

  /** Approved or running runs whose executor stopped renewing its lease: its warren died mid-run. */
  async orphaned(): Promise<string[]> {
    const ids = await this.redis.smembers(`${this.prefix}active`);
    if (ids.length === 0) return [];
    const leases = await this.redis.mget(ids.map((id) => `${this.prefix}lease:${id}`));
    return ids.filter((_, i) => leases[i] === null);
  }

  /** The most recent runs, newest first. */
  async recent(limit: number): Promise<WorkflowRun[]> {
    const ids = await this.redis.zrevrange(`${this.prefix}runs`, 0, limit - 1);
    const runs = await Promise.all(ids.map((id) => this.get(id)));
    return runs.filter((r): r is WorkflowRun => r !== undefined);
  }
}
