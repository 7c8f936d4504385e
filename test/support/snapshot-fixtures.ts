/**
 * Builds `ClusterSnapshot`s for check tests from JSON captured from real RabbitMQ clusters
 * (test/fixtures/rabbitmq-<series>/<scenario>-<part>.json; 3.10 unless a function is given the series), parsed
 * through the management schemas exactly as the snapshot fetcher parses the broker's answers (strictly: a fixture
 * item that a schema refuses fails the test instead of being left out).
 * Functions here are additive: other tests extend this file.
 */
import { readFileSync } from 'node:fs';
import { thresholdsSchema } from '../../src/config/health-schema.js';
import type {
  ClusterSnapshot,
  ConnectionInfo,
  HealthEndpointResult,
  ManagementEndpoint,
  PolicyInfo,
  QueueInfo,
} from '../../src/health/cluster-snapshot.js';
import { queueKey, type StreamReplicas } from '../../src/health/cluster-snapshot.js';
import type { CheckContext, QueueHistory, QueueSample } from '../../src/health/health-check.js';
import { streamOf } from '../../src/health/stream-stats.js';
import {
  connectionSchema,
  consumerSchema,
  type ManagementNode,
  nodesSchema,
  policySchema,
  queueSchema,
} from '../../src/management/schemas.js';

/** A fixed sweep time, so findings never depend on the clock. */
export const TAKEN_AT = Date.UTC(2026, 10, 22, 12, 0, 0);

/** The RabbitMQ series whose captured answers are in test/fixtures/rabbitmq-<series>/. */
export type FixtureSeries = '3.10' | '4.0';

export function readFixture(name: string, series: FixtureSeries = '3.10'): unknown {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/rabbitmq-${series}/${name}`, import.meta.url), 'utf8'),
  ) as unknown;
}

/** `/api/nodes` as the fetcher gets it (with stats; huge arrays were dropped at capture). */
export function fixtureNodes(name: string, series: FixtureSeries = '3.10'): ManagementNode[] {
  return nodesSchema.parse(readFixture(name, series));
}

/** The items of a captured listing: a page (`{ items }`, the 3.10 captures) or the whole listing (an array). */
function listingItems(body: unknown): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'items' in body ? body.items : body;
}

/**
 * One page of `/api/queues` (the fetcher's `disable_stats` listing unless the file says otherwise). That listing has
 * no consumer counts; the fetcher fills them from /api/consumers, so tests pass them by queue key (default 0).
 */
export function fixtureQueues(
  name: string,
  consumers: Record<string, number> = {},
  series: FixtureSeries = '3.10',
): QueueInfo[] {
  return queueSchema
    .array()
    .parse(listingItems(readFixture(name, series)))
    .map((q) => ({ ...q, consumers: consumers[queueKey(q)] ?? q.consumers ?? 0 }));
}

/** One page (or the whole listing) of `/api/connections` with the fetcher's column list. */
export function fixtureConnections(name: string, series: FixtureSeries = '3.10'): ConnectionInfo[] {
  return connectionSchema.array().parse(listingItems(readFixture(name, series)));
}

interface CapturedCheck {
  status: number;
  body?: { reason?: string };
}

/**
 * What each management URL answered at capture: its node (from /api/overview) and the raw status and body of
 * three health endpoints, or the connection error. An unreachable URL carries `rememberedNode`: the node the
 * fetcher would remember from an earlier sweep.
 */
interface CapturedEndpoint {
  url: string;
  node?: string;
  /** rabbitmq_version and erlang_version of the node's /api/overview (the 4.0 captures). */
  version?: string;
  erlangVersion?: string;
  rememberedNode?: string;
  error?: string;
  checks?: Record<string, CapturedCheck>;
}

/** Any other status (4.0's 406 for the mirror sync endpoint it no longer has) throws there, which reads as unknown. */
function healthResult(check: CapturedCheck | undefined): HealthEndpointResult | undefined {
  if (!check || (check.status !== 200 && check.status !== 503)) return undefined;
  return check.status === 200 ? { ok: true } : { ok: false, reason: check.body?.reason };
}

/** Captured endpoints mapped as SnapshotFetcher maps them (200 ok, 503 failed with the broker's reason). */
export function fixtureEndpoints(name: string, series: FixtureSeries = '3.10'): ManagementEndpoint[] {
  return (readFixture(name, series) as CapturedEndpoint[]).map((e) => {
    if (e.error !== undefined) return { url: e.url, node: e.rememberedNode, reachable: false, error: e.error };
    return {
      url: e.url,
      node: e.node,
      reachable: true,
      ...(e.version ? { version: e.version } : {}),
      ...(e.erlangVersion ? { erlangVersion: e.erlangVersion } : {}),
      health: {
        mirrorSyncCritical: healthResult(e.checks?.['node-is-mirror-sync-critical']),
        quorumCritical: healthResult(e.checks?.['node-is-quorum-critical']),
        alarms: healthResult(e.checks?.['local-alarms']),
      },
    };
  });
}

/** A snapshot of the given parts; parts left out are missing, as when the fetcher could not get them. */
export function snapshotOf(parts: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return { cluster: 'local', takenAt: TAKEN_AT, endpoints: [], errors: {}, ...parts };
}

export type FixturePart = 'nodes' | 'queues' | 'connections' | 'endpoints';

/** The snapshot of one captured scenario: `<scenario>-<part>.json` for each part asked for. */
export function scenarioSnapshot(
  scenario: string,
  parts: readonly FixturePart[],
  series: FixtureSeries = '3.10',
): ClusterSnapshot {
  const has = (part: FixturePart) => parts.includes(part);
  return snapshotOf({
    nodes: has('nodes') ? fixtureNodes(`${scenario}-nodes.json`, series) : undefined,
    queues: has('queues') ? fixtureQueues(`${scenario}-queues.json`, {}, series) : undefined,
    connections: has('connections') ? fixtureConnections(`${scenario}-connections.json`, series) : undefined,
    endpoints: has('endpoints') ? fixtureEndpoints(`${scenario}-endpoints.json`, series) : [],
  });
}

/** Runbook thresholds (the config defaults) and no queue history, with overrides. */
export function checkContext(overrides: Partial<CheckContext['thresholds']> = {}): CheckContext {
  return { thresholds: { ...thresholdsSchema.parse({}), ...overrides }, history: new Map() };
}

/** Consumers per queue key in a captured `/api/consumers`, counted as the snapshot fetcher counts them. */
export function fixtureConsumerCounts(name: string, series: FixtureSeries = '3.10'): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const consumer of consumerSchema.array().parse(readFixture(name, series))) {
    const key = queueKey(consumer.queue);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** A captured `/api/queues` page joined with a captured `/api/consumers`, as the fetcher joins the two listings. */
export function fixtureQueuesWithConsumers(
  queues: string,
  consumers: string,
  series: FixtureSeries = '3.10',
): QueueInfo[] {
  return fixtureQueues(queues, fixtureConsumerCounts(consumers, series), series);
}

/** A captured `/api/policies`. */
export function fixturePolicies(name: string, series: FixtureSeries = '3.10'): PolicyInfo[] {
  return policySchema.array().parse(readFixture(name, series));
}

/**
 * The queue history the sweeps before this one would have stored, one listing per sweep (oldest first, `interval`
 * apart and ending one interval before TAKEN_AT), kept as AlertStore.saveHistory keeps it: only queues that hold
 * messages, at most `keep` samples each, and a queue that empties drops out.
 */
export function historyOf(listings: readonly (readonly QueueInfo[])[], keep = 3, interval = 30_000): QueueHistory {
  let history = new Map<string, QueueSample[]>();
  listings.forEach((queues, i) => {
    const at = TAKEN_AT - (listings.length - i) * interval;
    const next = new Map<string, QueueSample[]>();
    for (const q of queues) {
      if (q.messages === 0 && q.messages_unacknowledged === 0) continue;
      const sample = { at, messages: q.messages, ready: q.messages_ready, unacked: q.messages_unacknowledged };
      next.set(queueKey(q), [...(history.get(queueKey(q)) ?? []), sample].slice(-keep));
    }
    history = next;
  });
  return history;
}

/** A stream's own stats (`<scenario>-queue-stream.json`) as the fetcher keeps it in the snapshot's `streams`. */
export function fixtureStream(name: string, series: FixtureSeries = '4.0'): StreamReplicas {
  return streamOf(readFixture(name, series));
}
