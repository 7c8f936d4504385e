import { describe, expect, it } from 'vitest';
import type { HealthThresholds } from '../../../src/config/health-schema.js';
import { resourceUsageCheck } from '../../../src/health/checks/resource-usage.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureNodes, scenarioSnapshot, snapshotOf } from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot, thresholds: Partial<HealthThresholds> = {}) =>
  resourceUsageCheck.evaluate(snapshot, checkContext(thresholds));

describe('resource-usage check', () => {
  it('warns about a real node whose memory use is near its watermark, without an alarm yet', () => {
    const snapshot = scenarioSnapshot('high-memory', ['nodes']);
    expect(snapshot.nodes?.find((n) => n.name === 'rabbit3@localhost')?.mem_alarm).toBe(false);
    const findings = evaluate(snapshot);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      check: 'resource-usage',
      severity: 'warning',
      subject: 'rabbit3@localhost',
      summary: '`rabbit3@localhost` is near its limits: memory 84%',
      details: ['memory: 132 MiB used of 157 MiB (84%, warning at 80%)'],
      data: { node: 'rabbit3@localhost', resources: [{ resource: 'mem', used: 138850304, limit: 165000000 }] },
    });
  });

  it('follows the configured threshold', () => {
    expect(evaluate(scenarioSnapshot('high-memory', ['nodes']), { resourceUsage: 0.9 })).toEqual([]);
  });

  it('lists every resource over the threshold with its percentage', () => {
    const nodes = fixtureNodes('healthy-nodes.json').map((n) =>
      n.name === 'rabbit1@localhost' ? { ...n, fd_used: 18_500, sockets_used: 16_000 } : n,
    );
    const findings = evaluate(snapshotOf({ nodes }));
    expect(findings.map((f) => f.summary)).toEqual([
      '`rabbit1@localhost` is near its limits: file descriptors 93%, sockets 89%',
    ]);
    expect(findings[0]?.details).toEqual([
      'file descriptors: 18,500 used of 20,000 (93%, warning at 80%)',
      'sockets: 16,000 used of 17,910 (89%, warning at 80%)',
    ]);
  });

  it('still reports memory on a node in memory alarm (the alarm itself is the alarms check’s)', () => {
    const findings = evaluate(scenarioSnapshot('memory-alarm', ['nodes']));
    expect(findings.map((f) => f.subject)).toEqual(['rabbit2@localhost']);
    expect(findings[0]?.summary).toMatch(/^`rabbit2@localhost` is near its limits: memory \d{4,}%$/);
  });

  it('ignores a stopped node, which reports no usage', () => {
    expect(evaluate(scenarioSnapshot('node-stopped', ['nodes']))).toEqual([]);
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['nodes']))).toEqual([]);
  });
});
