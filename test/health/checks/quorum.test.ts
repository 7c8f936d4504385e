import { describe, expect, it } from 'vitest';
import { quorumCheck } from '../../../src/health/checks/quorum.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import { pageSchema, queueSchema } from '../../../src/management/schemas.js';
import {
  checkContext,
  fixtureEndpoints,
  fixtureQueues,
  readFixture,
  scenarioSnapshot,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

const evaluate = (snapshot: ClusterSnapshot) => quorumCheck.evaluate(snapshot, checkContext());

describe('quorum check', () => {
  it('reports a real quorum queue with 1 of 3 members online and the node that is quorum-critical', () => {
    const findings = evaluate(scenarioSnapshot('quorum-lost', ['queues', 'endpoints']));
    expect(findings.map((f) => [f.severity, f.subject])).toEqual([
      ['critical', '//qq.scheduler'],
      ['critical', 'node:rabbit1@localhost'],
    ]);
    const [queue, node] = findings;
    expect(queue?.summary).toBe('`qq.scheduler` lost its quorum: 1 of 3 members online');
    expect(queue?.details).toEqual([
      'Online: `rabbit1@localhost`; offline: `rabbit2@localhost`, `rabbit3@localhost`',
      'Leader: `rabbit1@localhost`',
      'It neither accepts nor delivers messages until 2 members are online and elect a leader.',
    ]);
    expect(queue?.data).toEqual({
      vhost: '/',
      name: 'qq.scheduler',
      members: ['rabbit1@localhost', 'rabbit2@localhost', 'rabbit3@localhost'],
      online: ['rabbit1@localhost'],
      offline: ['rabbit2@localhost', 'rabbit3@localhost'],
      leader: 'rabbit1@localhost',
    });
    expect(node?.summary).toBe('Stopping `rabbit1@localhost` would leave quorum queues without quorum');
  });

  it('reports the leaderless queue that only a listing with stats shows', () => {
    // That listing sends `"leader": null`, which queueSchema (string or absent) rejects: read it as absent.
    const page = readFixture('quorum-lost-queues-stats.json') as { items: Record<string, unknown>[] };
    const items = page.items.map(({ leader, ...q }) => (leader === null ? q : { ...q, leader }));
    const queues = pageSchema(queueSchema)
      .parse({ ...page, items })
      .items.map((q) => ({ ...q, consumers: 0 }));
    const findings = evaluate(snapshotOf({ queues }));
    expect(findings.map((f) => f.subject)).toEqual(['//qq.conductor', '//qq.scheduler']);
    expect(findings[0]?.details).toContain('Leader: none');
    expect(findings[0]?.data).toMatchObject({ leader: null, online: ['rabbit1@localhost'] });
  });

  it('counts exactly half the members online as a lost quorum', () => {
    const queues = fixtureQueues('healthy-queues.json').map((q) =>
      q.name === 'qq.scheduler'
        ? {
            ...q,
            members: [...(q.members ?? []), 'rabbit4@localhost'],
            online: ['rabbit1@localhost', 'rabbit2@localhost'],
          }
        : q,
    );
    const findings = evaluate(snapshotOf({ queues }));
    expect(findings.map((f) => f.summary)).toEqual(['`qq.scheduler` lost its quorum: 2 of 4 members online']);
    expect(findings[0]?.details).toContain(
      'It neither accepts nor delivers messages until 3 members are online and elect a leader.',
    );
  });

  it('reports a queue without a leader even when a majority is online', () => {
    const queues = fixtureQueues('healthy-queues.json').map((q) =>
      q.name === 'qq.conductor' ? { ...q, leader: undefined } : q,
    );
    const findings = evaluate(snapshotOf({ queues }));
    expect(findings.map((f) => f.summary)).toEqual(['`qq.conductor` has no leader: 3 of 3 members online']);
  });

  it('keeps quiet about queues that lost one member of three, but flags the nodes now critical', () => {
    const findings = evaluate(scenarioSnapshot('node-stopped', ['queues', 'endpoints']));
    expect(findings.map((f) => f.subject)).toEqual(['node:rabbit1@localhost', 'node:rabbit2@localhost']);
  });

  it('names the URL of a quorum-critical endpoint whose node is unknown', () => {
    const endpoints = fixtureEndpoints('node-stopped-endpoints.json').map((e) => ({ ...e, node: undefined }));
    const findings = evaluate(snapshotOf({ queues: [], endpoints }));
    expect(findings.map((f) => f.subject)).toEqual(
      endpoints
        .filter((e) => e.reachable)
        .map((e) => `node:${e.url}`)
        .sort(),
    );
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(scenarioSnapshot('healthy', ['queues', 'endpoints']))).toEqual([]);
  });
});
