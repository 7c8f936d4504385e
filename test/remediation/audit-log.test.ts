/**
 * The audit record carries the vhosts of its run as a field: written as JSON in the stream entry and read back as a
 * list, `[]` for a run that acts on nodes only, and absent on entries written before the field existed. The stream
 * here is a small in-memory XADD/XREVRANGE; the real Redis is used in test/workflows/apply-policy-vhosts.int.test.ts.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/remediation/audit-log.js';

function fakeStream() {
  const rows: [string, string[]][] = [];
  const redis = {
    xadd: async (_key: string, ...args: string[]) => {
      const fields = args.slice(args.indexOf('*') + 1);
      const id = `${1_700_000_000_000 + rows.length}-0`;
      rows.push([id, fields]);
      return id;
    },
    xrevrange: async () => [...rows].reverse(),
  };
  return { redis: redis as unknown as Redis, rows };
}

const entry = { run: 'r-1', workflow: 'apply-policy', cluster: 'local', user: 'U1', event: 'requested' as const };

describe('AuditLog', () => {
  it('stores the vhosts of a run and reads them back as a list', async () => {
    const { redis, rows } = fakeStream();
    const log = new AuditLog(redis, 60_000);
    await log.append({ ...entry, vhosts: ['/neutron', '/nova'], detail: 'add policy' });
    await log.append({ ...entry, workflow: 'heal-partition', vhosts: [], detail: 'restart' });
    expect(rows[0]?.[1]).toEqual(expect.arrayContaining(['vhosts', '["/neutron","/nova"]']));
    const [nodeLevel, policy] = await log.latest(2);
    expect(policy).toMatchObject({ workflow: 'apply-policy', vhosts: ['/neutron', '/nova'] });
    expect(nodeLevel).toMatchObject({ workflow: 'heal-partition', vhosts: [] });
  });

  it('reads an entry written before the field as one without vhosts', async () => {
    const { redis, rows } = fakeStream();
    rows.push([
      '1-0',
      ['event', 'requested', 'run', 'r-0', 'workflow', 'purge-queue', 'cluster', 'c', 'user', 'U', 'detail', ''],
    ]);
    const [old] = await new AuditLog(redis, 60_000).latest(1);
    expect(old).toMatchObject({ run: 'r-0', workflow: 'purge-queue' });
    expect(old && 'vhosts' in old).toBe(false);
  });
});
