/**
 * The answers captured from real brokers (test/fixtures/rabbitmq-3.10 and -4.0, the latter by its capture.ts) parse
 * through the management schemas, and every pure check runs over the snapshots built from them without throwing.
 * Check logic is judged in each check's own test; here a misfire on 4.0 is pinned down so it is seen, not fixed.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { allChecks } from '../../src/health/checks/index.js';
import { type ClusterSnapshot, snapshotVersion } from '../../src/health/cluster-snapshot.js';
import { parseListing, type RejectedItem } from '../../src/management/listing.js';
import {
  connectionSchema,
  consumerSchema,
  nodesSchema,
  overviewSchema,
  policySchema,
  queueSchema,
} from '../../src/management/schemas.js';
import {
  checkContext,
  type FixturePart,
  type FixtureSeries,
  fixtureConnections,
  fixtureEndpoints,
  fixtureNodes,
  fixturePolicies,
  fixtureQueuesWithConsumers,
  fixtureStream,
  readFixture,
  scenarioSnapshot,
  snapshotOf,
} from '../support/snapshot-fixtures.js';

/** The 4.0 captures: each file, the schema the fetcher or a command reads it with, and how many items it holds. */
const CAPTURED_4_0: [file: string, schema: z.ZodType, items?: number][] = [
  ['kolla-nodes.json', nodesSchema, 3],
  ['kolla-queues.json', z.array(queueSchema), 15],
  ['kolla-queues-stats.json', z.array(queueSchema), 15],
  ['kolla-queue-stream.json', queueSchema],
  ['kolla-consumers.json', z.array(consumerSchema), 12],
  ['kolla-connections.json', z.array(connectionSchema), 5],
  ['kolla-policies.json', z.array(policySchema), 1],
  ['kolla-overview.json', overviewSchema],
  ['node-stopped-nodes.json', nodesSchema, 3],
  ['node-stopped-at-once-queues.json', z.array(queueSchema), 5],
  ['node-stopped-queues.json', z.array(queueSchema), 7],
  ['node-stopped-queues-stats.json', z.array(queueSchema), 10],
  ['node-stopped-queue-stream.json', queueSchema],
  ['node-stopped-consumers.json', z.array(consumerSchema), 3],
  ['node-stopped-connections.json', z.array(connectionSchema), 2],
  ['node-stopped-overview.json', overviewSchema],
];

describe('the RabbitMQ 4.0 captures', () => {
  it('lists every captured answer here, so none goes unparsed', () => {
    const files = readdirSync(new URL('../fixtures/rabbitmq-4.0/', import.meta.url)).filter((f) => f.endsWith('.json'));
    const parsedElsewhere = [
      'kolla-endpoints.json',
      'node-stopped-endpoints.json',
      'kolla-feature-flags.json',
      // Its message_stats only (the unroutable totals): test/health/checks/delivery-limit-unroutable.test.ts.
      'drops-overview.json',
    ];
    const unlisted = files.filter(
      (f) =>
        !parsedElsewhere.includes(f) && f !== 'kolla-health-mirror-sync.json' && !CAPTURED_4_0.some(([c]) => c === f),
    );
    expect(unlisted).toEqual([]);
  });

  it.each(CAPTURED_4_0)('%s parses whole, every item accepted', (file, schema, items) => {
    const body = readFixture(file, '4.0');
    const parsed = schema.safeParse(body);
    expect(parsed.success ? [] : parsed.error.issues.slice(0, 3)).toEqual([]);
    if (items !== undefined) expect(parsed.data).toHaveLength(items);
    if (schema instanceof z.ZodArray) {
      const rejected: RejectedItem[] = [];
      expect(parseListing(`/api/${file}`, schema.element as z.ZodType, body, (r) => rejected.push(r))).toHaveLength(
        items as number,
      );
      expect(rejected).toEqual([]);
    }
  });

  it('reads what broke the 3.10 schema: every classic queue with online null, the stream without depths', () => {
    const raw = readFixture('kolla-queues.json', '4.0') as Record<string, unknown>[];
    const classic = raw.filter((q) => q.type === 'classic');
    expect(classic.length).toBeGreaterThan(0);
    expect(classic.every((q) => q.online === null)).toBe(true);
    const queues = queueSchema.array().parse(raw);
    expect(queues.filter((q) => q.type === 'classic').every((q) => q.online === undefined)).toBe(true);
    const stream = queues.find((q) => q.type === 'stream');
    expect(stream).toMatchObject({ name: 'scheduler_fanout', messages: 0, totals: null, type_specific: null });
    expect(stream?.online).toHaveLength(3);
    expect(stream?.members).toBeUndefined();
    // Its retained casts show only with stats.
    expect(queueSchema.parse(readFixture('kolla-queue-stream.json', '4.0'))).toMatchObject({
      type: 'stream',
      messages: 4000,
      members: expect.any(Array),
      segments: expect.any(Number),
    });
  });

  it('shows what the cheap listing leaves out while a node is down: queues hosted or led there', () => {
    const cheap = new Set(
      queueSchema
        .array()
        .parse(readFixture('node-stopped-queues.json', '4.0'))
        .map((q) => q.name),
    );
    const withStats = queueSchema.array().parse(readFixture('node-stopped-queues-stats.json', '4.0'));
    const missing = withStats.filter((q) => !cheap.has(q.name));
    expect(missing.map((q) => [q.name, q.type, q.state])).toContainEqual(['classic.on-rabbit3', 'classic', 'down']);
  });

  it('reads a stopped node as running false with nothing but its name and type', () => {
    const stopped = fixtureNodes('node-stopped-nodes.json', '4.0').find((n) => !n.running);
    expect(stopped).toMatchObject({ name: 'rabbit3@localhost', partitions: [] });
    expect(stopped?.applications).toBeUndefined();
  });

  it('maps the endpoints as the fetcher does: versions kept, the stopped node unreachable', () => {
    const kolla = fixtureEndpoints('kolla-endpoints.json', '4.0');
    expect(kolla.map((e) => [e.node, e.version, e.health?.quorumCritical?.ok])).toEqual([
      ['rabbit1@localhost', '4.0.5', true],
      ['rabbit2@localhost', '4.0.5', true],
      ['rabbit3@localhost', '4.0.5', true],
    ]);
    // 4.0 has no mirror sync endpoint: asked with Accept: application/json it answers 406 (404 without).
    expect(readFixture('kolla-health-mirror-sync.json', '4.0')).toMatchObject({ status: 406 });
    expect(kolla.every((e) => e.health?.mirrorSyncCritical === undefined)).toBe(true);
    const stopped = fixtureEndpoints('node-stopped-endpoints.json', '4.0');
    expect(stopped.map((e) => [e.node, e.reachable])).toEqual([
      ['rabbit1@localhost', true],
      ['rabbit2@localhost', true],
      ['rabbit3@localhost', false],
    ]);
  });
});

/** A 4.0 scenario as the fetcher builds it: every part, queues joined with their consumers. */
function snapshot40(scenario: 'kolla' | 'node-stopped'): ClusterSnapshot {
  return snapshotOf({
    nodes: fixtureNodes(`${scenario}-nodes.json`, '4.0'),
    queues: fixtureQueuesWithConsumers(`${scenario}-queues.json`, `${scenario}-consumers.json`, '4.0'),
    connections: fixtureConnections(`${scenario}-connections.json`, '4.0'),
    policies: fixturePolicies('kolla-policies.json', '4.0'),
    endpoints: fixtureEndpoints(`${scenario}-endpoints.json`, '4.0'),
    streams: [fixtureStream(`${scenario}-queue-stream.json`)],
  });
}

/** Every 3.10 scenario with the parts captured for it (`<scenario>-<part>.json`). */
function scenarios310(): ClusterSnapshot[] {
  const parts: FixturePart[] = ['nodes', 'queues', 'connections', 'endpoints'];
  const files = readdirSync(new URL('../fixtures/rabbitmq-3.10/', import.meta.url));
  const scenarios = new Set(
    files.flatMap((f) => parts.filter((p) => f.endsWith(`-${p}.json`)).map((p) => f.slice(0, -`-${p}.json`.length))),
  );
  return [...scenarios].sort().map((scenario) => {
    const has = parts.filter((p) => files.includes(`${scenario}-${p}.json`));
    return { ...scenarioSnapshot(scenario, has, '3.10' satisfies FixtureSeries), cluster: scenario };
  });
}

const SNAPSHOTS: [string, ClusterSnapshot][] = [
  ...scenarios310().map((s): [string, ClusterSnapshot] => [`3.10 ${s.cluster}`, s]),
  ['4.0 kolla', snapshot40('kolla')],
  ['4.0 node-stopped', snapshot40('node-stopped')],
];

describe('every pure check over the captured snapshots', () => {
  it('covers both series', () => {
    expect(SNAPSHOTS.filter(([name]) => name.startsWith('3.10')).length).toBeGreaterThan(10);
  });

  it.each(SNAPSHOTS)('%s: each check whose parts are there returns findings without throwing', (_, snapshot) => {
    const version = snapshotVersion(snapshot);
    const context = { ...checkContext(), ...(version ? { version } : {}) };
    let ran = 0;
    for (const check of allChecks) {
      if (check.needs.some((p) => p !== 'endpoints' && snapshot[p] === undefined)) continue;
      if (version && check.appliesTo && !check.appliesTo(version)) continue;
      const findings = check.evaluate(snapshot, context);
      expect(Array.isArray(findings), check.id).toBe(true);
      ran++;
    }
    expect(ran).toBeGreaterThan(0);
  });
});

describe('the checks on the healthy 4.0 kolla layout', () => {
  const snapshot = snapshot40('kolla');
  const version = snapshotVersion(snapshot);
  const findingsOf = (id: string) => {
    const check = allChecks.find((c) => c.id === id);
    if (!check) throw new Error(`no check ${id}`);
    return check.evaluate(snapshot, { ...checkContext(), ...(version ? { version } : {}) });
  };

  it('knows the cluster runs 4.0.5', () => {
    expect(version?.raw).toBe('4.0.5');
  });

  it.each([
    'network-partition',
    'node-down',
    'alarms',
    'quorum',
    'channel-leak',
    'heartbeats',
    'resource-usage',
    'master-imbalance',
    'policy-coverage',
    'stuck-consumers',
    // Silent because a stream is never a backlog: its 4,000 retained casts are retained data, not unread work.
    'backlog',
    // oslo's stream fanout sets x-max-age, and its replicas are on every node.
    'stream-retention',
    'stream-replicas',
  ])('%s is silent', (id) => {
    expect(findingsOf(id)).toEqual([]);
  });

  it('zombie-queues names the killed classic server’s fanout queue, and not the stream', () => {
    const subjects = findingsOf('zombie-queues').map((f) => f.subject);
    expect(subjects).toEqual([expect.stringMatching(/l3_agent_fanout_[0-9a-f]{32}$/)]);
  });

  it('every check runs on the stopped-node snapshot, and node-down names rabbit3', () => {
    const stopped = snapshot40('node-stopped');
    const context = { ...checkContext(), ...(version ? { version } : {}) };
    const nodeDown = allChecks.find((c) => c.id === 'node-down')?.evaluate(stopped, context) ?? [];
    expect(nodeDown.map((f) => f.subject)).toEqual([expect.stringContaining('rabbit3@localhost')]);
  });
});
