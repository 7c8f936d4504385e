import { describe, expect, it } from 'vitest';
import { runChecks } from '../../../src/health/check-run.js';
import { bootHangCheck } from '../../../src/health/checks/boot-hang.js';
import { NO_BOOT_STATE } from '../../../src/health/snapshot-fetcher.js';
import type { ManagementNode } from '../../../src/management/schemas.js';
import { checkContext, fixtureNodes, snapshotOf } from '../../support/snapshot-fixtures.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';
const NOW = Date.parse('2026-12-06T13:30:00Z');
const MIN = 60_000;

/** The real 3-node cluster's /api/nodes with the given nodes not running. */
function nodesWith(down: readonly string[]): ManagementNode[] {
  return fixtureNodes('healthy-nodes.json').map((n) => ({ ...n, running: !down.includes(n.name) }));
}

describe('boot-hang', () => {
  it('stays quiet while a boot is younger than the threshold, and without a node booting', () => {
    const young = snapshotOf({ takenAt: NOW, nodes: nodesWith([R1]), booting: [{ node: R1, since: NOW - 2 * MIN }] });
    expect(bootHangCheck.evaluate(young, checkContext())).toEqual([]);
    expect(bootHangCheck.evaluate(snapshotOf({ takenAt: NOW, booting: [] }), checkContext())).toEqual([]);
    const shorter = checkContext({ bootHang: MIN });
    expect(bootHangCheck.evaluate(young, shorter).map((f) => f.subject)).toEqual([R1]);
  });

  it('names a boot that hangs while its peers run, for its VM to be restarted', () => {
    const snapshot = snapshotOf({
      takenAt: NOW,
      nodes: nodesWith([R1]),
      booting: [{ node: R1, since: NOW - 4 * MIN }],
    });
    const [finding] = bootHangCheck.evaluate(snapshot, checkContext());
    expect(finding?.summary).toBe(
      '`rabbit1@localhost` is hung in its boot while `rabbit2@localhost`, `rabbit3@localhost` run',
    );
    expect(finding?.details?.[0]).toBe(
      'Its VM answers and its rabbit app is booting since 2026-12-06 13:26:00 UTC, 4m at the last look.',
    );
    expect(finding?.data).toEqual({ node: R1, since: NOW - 4 * MIN, peersRunning: [R2, R3], startOrder: [R1] });
  });

  it('with every peer down, says to start the node warren saw running last first, and gives the whole order', () => {
    const lastSeenRunning = new Map([
      [R1, NOW - 20 * MIN],
      [R2, NOW - 19 * MIN],
      [R3, NOW - 18 * MIN],
    ]);
    // No URL answers while the cluster is down: no node listing at all.
    const snapshot = snapshotOf({ takenAt: NOW, booting: [{ node: R1, since: NOW - 5 * MIN }] });
    const [finding] = bootHangCheck.evaluate(snapshot, { ...checkContext(), lastSeenRunning });
    expect(finding?.summary).toBe(
      '`rabbit1@localhost` is hung in its boot, waiting for its peers: start `rabbit3@localhost` first',
    );
    expect(finding?.details?.join('\n')).toContain(
      'in the order warren recorded: `rabbit3@localhost`, `rabbit2@localhost`, `rabbit1@localhost`',
    );
    expect(finding?.data?.startOrder).toEqual([R3, R2, R1]);
    const unknown = bootHangCheck.evaluate(snapshot, checkContext());
    expect(unknown[0]?.summary).toBe('`rabbit1@localhost` is hung in its boot, waiting for its peers');
    expect(unknown[0]?.data).not.toHaveProperty('startOrder');
  });

  it('is not applicable without node control, instead of failing every sweep', () => {
    const snapshot = snapshotOf({ takenAt: NOW, unavailable: { booting: NO_BOOT_STATE } });
    const [result] = runChecks([bootHangCheck], snapshot, checkContext());
    expect(result).toMatchObject({ notApplicable: NO_BOOT_STATE });
  });
});
