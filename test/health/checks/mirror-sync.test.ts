import { describe, expect, it } from 'vitest';
import { mirrorSyncCheck } from '../../../src/health/checks/mirror-sync.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import {
  checkContext,
  fixtureEndpoints,
  fixtureQueues,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot) => mirrorSyncCheck.evaluate(snapshot, checkContext());

// Captured after raising ha-params to 3 (mirror.orders) and moving billing.invoices' mirror to another node, both
// under ha-sync-mode manual: new mirrors do not receive the messages published before they joined.
const unsynced = () =>
  snapshotOf({
    queues: fixtureQueues('unsynced-mirror-queues.json'),
    endpoints: fixtureEndpoints('unsynced-mirror-endpoints.json'),
  });

describe('mirror-sync check', () => {
  it('offers the sync-mirrors workflow', () => {
    expect(mirrorSyncCheck.workflow).toBe('sync-mirrors');
    expect(mirrorSyncCheck.hint).toContain('blocks the queue');
  });

  it('reports real unsynchronised mirrors, critical when only the master holds the messages', () => {
    const findings = evaluate(unsynced());
    expect(findings.map((f) => [f.severity, f.subject])).toEqual([
      ['critical', '//billing.invoices'],
      ['critical', 'node:rabbit1@localhost'],
      ['warning', '//mirror.orders'],
    ]);
    const [billing, node, orders] = findings;
    expect(billing?.summary).toBe(
      '`billing.invoices` holds 12 messages with no synchronised mirror: only `rabbit1@localhost` has them',
    );
    expect(billing?.data).toEqual({
      vhost: '/',
      name: 'billing.invoices',
      node: 'rabbit1@localhost',
      messages: 12,
      synchronised: [],
      unsynchronised: ['rabbit3@localhost'],
      policy: 'ha-billing',
    });
    expect(orders?.summary).toBe('`mirror.orders` holds 25 messages; mirror `rabbit3@localhost` not synchronised');
    expect(orders?.details).toEqual([
      'Master `rabbit1@localhost`; synchronised: `rabbit2@localhost`; not synchronised: `rabbit3@localhost`',
      'Policy `ha-manual`',
      expect.stringContaining('Syncing blocks the queue'),
    ]);
    expect(node?.summary).toBe(
      'Stopping `rabbit1@localhost` would lose the last synchronised copy of classic mirrored queues',
    );
    expect(node?.details?.[0]).toBe(
      'Its `node-is-mirror-sync-critical` health check fails: There are classic mirrored queues without online synchronised mirrors',
    );
  });

  it('leaves out empty queues, whose new mirrors have nothing to miss', () => {
    const snapshot = unsynced();
    const empty = snapshot.queues?.find((q) => q.name === 'mirror.empty');
    expect(empty?.messages).toBe(0);
    const queues = snapshot.queues?.map((q) => (q === empty ? { ...q, synchronised_slave_nodes: [] } : q));
    expect(evaluate({ ...snapshot, queues }).map((f) => f.subject)).not.toContain('//mirror.empty');
  });

  it('still flags the master node from its endpoint when the cheap listing lags behind the mirrors', () => {
    // The disable_stats listing, captured at the same moment, shows the mirror sets from before the policy change.
    const findings = evaluate(
      snapshotOf({
        queues: fixtureQueues('unsynced-mirror-queues-disable-stats.json'),
        endpoints: fixtureEndpoints('unsynced-mirror-endpoints.json'),
      }),
    );
    expect(findings.filter((f) => f.severity === 'critical').map((f) => f.subject)).toEqual(['node:rabbit1@localhost']);
  });

  it('names a queue outside the default vhost with its vhost', () => {
    const queues = fixtureQueues('unsynced-mirror-queues.json').map((q) => ({ ...q, vhost: 'nova' }));
    const findings = evaluate(snapshotOf({ queues }));
    expect(findings.map((f) => f.subject)).toEqual(['nova/billing.invoices', 'nova/mirror.orders']);
    expect(findings[1]?.summary).toMatch(/^`mirror\.orders` \(vhost `nova`\) holds 25 messages/);
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['queues', 'endpoints']))).toEqual([]);
  });
});
