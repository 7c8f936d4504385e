/**
 * The audit trail: every request, approval, rejection, expiry, guard failure, step, verification and rollback,
 * with who and when, appended to one Redis stream. Entries older than `remediation.auditRetention` are trimmed
 * as new ones arrive (XADD MINID), so the stream stays bounded without a separate job. Redis persistence (AOF)
 * makes it durable; `warren audit-export` writes it out as JSON lines for compliance archives.
 */
import type { Redis } from 'ioredis';
import { planVhosts } from './workflow-definition.js';
import type { WorkflowRun } from './workflow-run.js';

export const AUDIT_EVENTS = [
  'requested',
  'dry-run',
  'approved',
  'approval-recorded',
  'approval-refused',
  'rejected',
  'expired',
  'started',
  'guard-failed',
  'step-done',
  'step-failed',
  'aborted',
  'verified',
  'verification-failed',
  'rolled-back',
  'rollback-failed',
  'interrupted',
  'resumed',
  'abandoned',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export interface AuditEntry {
  /** Stream id (`<ms>-<seq>`): orders entries and says when. */
  id: string;
  at: number;
  event: AuditEvent;
  run: string;
  workflow: string;
  cluster: string;
  /**
   * The vhosts the run acts in (from its plan's steps), on every record of the run: `[]` for a run that acts on nodes
   * or the whole cluster. Absent only on records written before warren recorded it.
   */
  vhosts?: string[];
  /** Who acted: a Slack user id, or `warren` for what warren did on its own (expiry, steps). */
  user: string;
  detail: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at' | 'vhosts'> & { vhosts: readonly string[] };

/** Who and what an audit record of a stored run is about: the run, its workflow, cluster and vhosts. */
export function runAudit(run: WorkflowRun, user: string): Omit<NewAuditEntry, 'event' | 'detail'> {
  return { run: run.id, workflow: run.workflow, cluster: run.cluster, vhosts: planVhosts(run.plan), user };
}

export class AuditLog {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    private readonly retentionMs: number,
    prefix = 'warren:remediation:',
    private readonly now: () => number = Date.now,
  ) {
    this.key = `${prefix}audit`;
  }

  async append(entry: NewAuditEntry): Promise<string> {
    const now = this.now();
    const id = await this.redis.xadd(
      this.key,
      'MINID',
      '~',
      String(Math.max(0, now - this.retentionMs)),
      '*',
      'event',
      entry.event,
      'run',
      entry.run,
      'workflow',
      entry.workflow,
      'cluster',
      entry.cluster,
      'vhosts',
      JSON.stringify(entry.vhosts),
      'user',
      entry.user,
      'detail',
      entry.detail,
    );
    return id as string;
  }

  /** The newest `count` entries, newest first. */
  async latest(count: number): Promise<AuditEntry[]> {
    return (await this.redis.xrevrange(this.key, '+', '-', 'COUNT', count)).map(toEntry);
  }

  /** Every entry from `sinceMs` on, oldest first, read in batches so a long trail is never held whole. */
  async *since(sinceMs = 0, batch = 500): AsyncGenerator<AuditEntry> {
    let start = `${sinceMs}-0`;
    for (;;) {
      const rows = await this.redis.xrange(this.key, start, '+', 'COUNT', batch);
      for (const row of rows) yield toEntry(row);
      if (rows.length < batch) return;
      start = `(${(rows.at(-1) as [string, string[]])[0]}`;
    }
  }
}

function toEntry([id, fields]: [string, string[]]): AuditEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  return {
    id,
    at: Number(id.split('-')[0]),
    event: (map.get('event') ?? 'requested') as AuditEvent,
    run: map.get('run') ?? '',
    workflow: map.get('workflow') ?? '',
    cluster: map.get('cluster') ?? '',
    ...vhostsField(map.get('vhosts')),
    user: map.get('user') ?? '',
    detail: map.get('detail') ?? '',
  };
}

/** The stored JSON list of vhosts; nothing for a record written before the field existed (or not a list of names). */
function vhostsField(stored: string | undefined): { vhosts?: string[] } {
  if (stored === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(stored);
    return Array.isArray(parsed) && parsed.every((v) => typeof v === 'string') ? { vhosts: parsed } : {};
  } catch {
    return {};
  }
}
