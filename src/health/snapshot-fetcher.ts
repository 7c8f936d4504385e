/**
 * Fetches one cluster's `ClusterSnapshot` for a sweep, in few requests and one parsed copy of each listing:
 * - queues are listed without per-queue stats (`disable_stats=true&enable_queue_totals=true`): on a 3.10 broker
 *   that is several times cheaper than the stats listing, which makes the broker compute rates for every queue.
 *   Consumer counts, which that listing leaves out, come from /api/consumers, asked at the same time;
 * - what that listing still costs is the broker asking every queue process for its depths, which is what
 *   `rabbitmqctl list_queues` does too, and then encoding the answer. Its JSON encoder (jsx, in Erlang) took nearly
 *   as long as the asking: 7.6 s against 9.7 s of a 22 s listing of 30,000 queues on a busy 2-core machine. So the
 *   whole-cluster listings are asked as Erlang terms (`application/bert`: `term_to_binary`, native, milliseconds),
 *   unsorted, and the queue listing without `columns`, whose picking costs the broker more than it saves (see
 *   queues());
 * - listings are asked in one request by default, not in pages: the broker lists and sorts every item to serve each
 *   page, so the 20 pages of 10,000 queues cost it 20 full listings (on the bench's local cluster, about 7 s instead
 *   of 1 s). With `health.pageSize` set they are paged, which bounds the size of each response instead;
 * - /api/nodes is asked with stats, because `disable_stats` drops the alarm and partition fields;
 * - every management URL is asked for its node's health endpoints, since they judge only the node that serves them;
 * - the cheap listing's mirror fields (`slave_nodes`, `synchronised_slave_nodes`) lag behind: a mirror added by a
 *   policy change shows up there late or never. Only a mirrored queue holding messages can have an unsynchronised
 *   mirror (an empty one syncs at once), so those few are asked again with stats, which are current.
 * - streams have no members in the cheap listing: each stream's replicas are asked of its own stats, after the
 *   listing (`streams`, its own part: one failure leaves the stream checks unable to run, not passing).
 * - each running node's `cluster_partition_handling` comes from node control, once the node listing names the nodes
 *   (`partitionHandling`, its own part; the reader keeps it for minutes: it is configuration, not state).
 * - the nodes that do not run are asked through node control whether they are booting (`booting`, its own part),
 *   once the listing or the URLs that did not answer name them.
 * A part that fails is left undefined with the reason in `errors`; the sweep goes on with the rest.
 * This module only reads; it judges nothing (that is the checks') and keeps no state but the URL → node names.
 */

import { z } from 'zod';
import type { BootWatch, NodeBoot } from '../cluster/boot-watch.js';
import type { NodePartitionHandling, PartitionHandlingReader } from '../cluster/partition-handling-reader.js';
import { ManagementApiError, QueueMetricsError } from '../errors.js';
import { hasClassicMirroring, parseBrokerVersion } from '../management/broker-version.js';
import type { GetOptions, ManagementClient } from '../management/management-client.js';
import { type NodeDropCounters, PrometheusDropCounters } from '../management/prometheus-broker-counters.js';
import type { PrometheusEndpoints } from '../management/prometheus-endpoints.js';
import { PrometheusQueueMetrics, type QueueDepth } from '../management/prometheus-queue-metrics.js';
import {
  connectionSchema,
  consumerSchema,
  featureFlagSchema,
  type ManagementNode,
  nodeOverviewSchema,
  policySchema,
  queueSchema,
} from '../management/schemas.js';
import type {
  ClusterSnapshot,
  ConnectionInfo,
  DepthSource,
  HealthEndpointResult,
  ManagementEndpoint,
  QueueInfo,
  SnapshotPart,
  StreamReplicas,
} from './cluster-snapshot.js';
import { queueKey } from './cluster-snapshot.js';
import type { BrokerCounters } from './drop-counters.js';
import { fetchStreamReplicas, type StreamMembersSource } from './stream-stats.js';

export const QUEUE_COLUMNS = [
  'name',
  'vhost',
  'node',
  'type',
  'state',
  'policy',
  'durable',
  'auto_delete',
  'exclusive',
  'arguments',
  'messages',
  'messages_ready',
  'messages_unacknowledged',
  'slave_nodes',
  'synchronised_slave_nodes',
  'members',
  'online',
  'leader',
].join(',');

export const CONNECTION_COLUMNS = [
  'name',
  'node',
  'user',
  'vhost',
  'peer_host',
  'peer_port',
  'channels',
  'timeout',
  'state',
  'connected_at',
  'client_properties',
].join(',');

/** The /api/consumers columns that name each consumer's queue: all that counting consumers per queue needs. */
export const CONSUMER_QUEUE_COLUMNS = 'queue.name,queue.vhost';

/** Consumers per queue (key: `queueKey`) in an /api/consumers listing; a queue missing from it has none. */
export function consumerCounts(consumers: Iterable<{ queue: { vhost: string; name: string } }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const consumer of consumers) {
    const key = queueKey(consumer.queue);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const policiesSchema = z.array(policySchema);
const featureFlagsSchema = z.array(featureFlagSchema);
const deprecatedFeaturesSchema = z.array(z.looseObject({ name: z.string(), deprecation_phase: z.string().optional() }));
const overviewCountersSchema = z.looseObject({
  message_stats: z
    .looseObject({ drop_unroutable: z.number().optional(), return_unroutable: z.number().optional() })
    .optional(),
});
const consumersSchema = z.array(consumerSchema);
const queuesSchema = z.array(queueSchema);
/** The cheap queue listing: no per-queue stats, but each queue's depths, asked of its process (see queues()). */
const QUEUE_TOTALS = { disable_stats: 'true', enable_queue_totals: 'true' };
const NO_DEPTH_YET: QueueDepth = { messages: 0, messages_ready: 0, messages_unacknowledged: 0, consumers: 0 };

/** The order the broker sorts a queue listing in by default (its `sort` is vhost, then name). */
function byVhostAndName(a: { vhost: string; name: string }, b: { vhost: string; name: string }): number {
  if (a.vhost !== b.vhost) return a.vhost < b.vhost ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Mirror state asked one queue at a time up to this many queues; beyond, one stats listing of mirror columns. */
const MIRROR_REFRESH_ONE_BY_ONE = 50;
const MIRROR_REFRESH_PARALLEL = 8;
const MIRROR_COLUMNS = 'name,vhost,node,slave_nodes,synchronised_slave_nodes';
const mirrorStateSchema = queueSchema.pick({
  name: true,
  vhost: true,
  node: true,
  slave_nodes: true,
  synchronised_slave_nodes: true,
});
const mirrorStatesSchema = z.array(mirrorStateSchema);
type MirrorState = z.infer<typeof mirrorStateSchema>;

/** Why a cluster never has partition handling in its snapshot: only the CLI tells it (see partition-handling.ts). */
export const NO_NODE_CONTROL =
  'not applicable without node control: only the CLI tells a node’s cluster_partition_handling (set clusters[].nodeControl)';

/** Why a cluster never has the booting nodes in its snapshot: only the CLI tells a booting node from a stopped one. */
export const NO_BOOT_STATE =
  'not applicable without node control: only the CLI tells a booting node from a stopped one (set clusters[].nodeControl)';

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a cluster's snapshot is read with, beyond its management API; each part optional. */
export interface SnapshotFetcherOptions {
  /** 0 (default): each listing in one request; 1–500: in pages of that many items (health.pageSize). */
  pageSize?: number;
  /** How long a whole-cluster listing may take (health.listingTimeout); other requests keep the client's own. */
  listingTimeoutMs?: number;
  /**
   * The cluster's Prometheus endpoints, when it names them: queue depths come from there (else from the management
   * API), and the nodes' drop counters only from there.
   */
  prometheus?: PrometheusEndpoints;
  /** Each node's cluster_partition_handling, when the cluster has node control. */
  partitionHandling?: PartitionHandlingReader;
  /** Which stopped nodes are booting, when the cluster has node control. */
  bootWatch?: BootWatch;
  /** Node control, to settle a stream whose stats list two sets of members (stream-stats.ts). */
  streamMembers?: StreamMembersSource;
}

/** Where a sweep gets a cluster's snapshot: the fetcher below, or a fixed one in tests of the sweep itself. */
export interface SnapshotSource {
  fetch(now: () => number): Promise<ClusterSnapshot>;
}

export class SnapshotFetcher implements SnapshotSource {
  /** Node behind each management URL, remembered so a URL that stops answering can still be named by its node. */
  private readonly nodeOfUrl = new Map<string, string>();
  /** The nodes' drop counters, from the same Prometheus endpoints as the queue metrics. */
  private readonly dropCounters?: PrometheusDropCounters;
  private readonly queueMetrics?: PrometheusQueueMetrics;

  private readonly pageSize: number;
  private readonly listingTimeoutMs?: number;
  private readonly partitionHandling?: PartitionHandlingReader;
  private readonly bootWatch?: BootWatch;
  private readonly streamMembers?: StreamMembersSource;

  constructor(
    private readonly cluster: string,
    private readonly management: ManagementClient,
    options: SnapshotFetcherOptions = {},
  ) {
    this.pageSize = options.pageSize ?? 0;
    this.listingTimeoutMs = options.listingTimeoutMs;
    this.partitionHandling = options.partitionHandling;
    this.bootWatch = options.bootWatch;
    this.streamMembers = options.streamMembers;
    if (options.prometheus) {
      this.queueMetrics = new PrometheusQueueMetrics(options.prometheus);
      this.dropCounters = new PrometheusDropCounters(options.prometheus);
    }
  }

  /** Whole-cluster listings come as Erlang terms: the broker's JSON encoder was most of what they cost it. */
  private get listing(): GetOptions {
    return { bert: true, ...(this.listingTimeoutMs ? { timeoutMs: this.listingTimeoutMs } : {}) };
  }

  /** A whole listing, in one request or page by page. */
  private async list<S extends z.ZodType>(
    path: string,
    item: S,
    params: Record<string, string>,
  ): Promise<z.output<S>[]> {
    if (this.pageSize === 0) return this.management.get(path, z.array(item), params, this.listing);
    const items: z.output<S>[] = [];
    await this.management.getPages(
      path,
      item,
      { ...params, page_size: this.pageSize },
      (page) => {
        for (const entry of page) items.push(entry);
      },
      this.listing,
    );
    return items;
  }

  async fetch(now: () => number = Date.now): Promise<ClusterSnapshot> {
    const takenAt = now();
    const errors: Partial<Record<SnapshotPart, string>> = {};
    const part = async <T>(name: SnapshotPart, load: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await load();
      } catch (error) {
        errors[name] = reason(error);
        return undefined;
      }
    };
    const countersRead = part('counters', () => this.counters());
    const nodeCountersRead = this.dropCounters ? part('nodeCounters', () => this.nodeCounters()) : undefined;
    const deprecatedRead = part('deprecatedFeatures', () => this.deprecatedFeatures());
    const nodesRead = part('nodes', () => this.management.nodes());
    const handlingRead = nodesRead.then((listed) => this.partitionHandlingOf(listed, errors, part));
    const [endpoints, nodes, queues, connections, policies, featureFlags, partitionHandling] = await Promise.all([
      this.endpoints(),
      nodesRead,
      part('queues', () => this.queues()),
      part('connections', () => this.connections()),
      part('policies', () => this.management.get('/api/policies', policiesSchema)),
      part('featureFlags', () => this.management.get('/api/feature-flags', featureFlagsSchema)),
      handlingRead,
    ]);
    let streams: StreamReplicas[] | undefined;
    if (queues) streams = await part('streams', () => this.streamReplicas(queues.queues));
    else errors.streams = 'no queue listing to find the streams in';
    const [counters, nodeCounters, deprecatedFeatures, booting] = await Promise.all([
      countersRead,
      nodeCountersRead,
      deprecatedRead,
      this.bootWatch ? part('booting', () => this.bootingOf(endpoints, nodes, takenAt)) : undefined,
    ]);
    return {
      cluster: this.cluster,
      counters,
      nodeCounters,
      deprecatedFeatures,
      takenAt,
      endpoints,
      nodes,
      queues: queues?.queues,
      streams,
      ...(queues ? { depths: queues.depths } : {}),
      connections,
      policies,
      featureFlags,
      partitionHandling,
      booting,
      errors,
      ...(this.partitionHandling
        ? {}
        : { unavailable: { partitionHandling: NO_NODE_CONTROL, booting: NO_BOOT_STATE } }),
    };
  }

  /** Read through node control only when the cluster has it and the node listing came: it names the nodes to ask. */
  private async partitionHandlingOf(
    nodes: ManagementNode[] | undefined,
    errors: Partial<Record<SnapshotPart, string>>,
    part: <T>(name: SnapshotPart, load: () => Promise<T>) => Promise<T | undefined>,
  ): Promise<NodePartitionHandling[] | undefined> {
    const reader = this.partitionHandling;
    if (!reader) return undefined;
    if (!nodes) {
      errors.partitionHandling = 'no node listing to know the nodes from';
      return undefined;
    }
    return part('partitionHandling', () => reader.read(nodes));
  }

  /**
   * The nodes /api/nodes lists as not running, or, when no listing came (no URL answers, as when a whole cluster
   * is down), the nodes behind the URLs that do not answer: asked whether they are booting.
   */
  private bootingOf(
    endpoints: readonly ManagementEndpoint[],
    nodes: readonly ManagementNode[] | undefined,
    now: number,
  ): Promise<NodeBoot[]> {
    const down = nodes
      ? nodes.filter((n) => !n.running).map((n) => n.name)
      : endpoints.filter((e) => !e.reachable && e.node !== undefined).map((e) => e.node as string);
    return (this.bootWatch as BootWatch).read([...new Set(down)], now);
  }

  private async endpoints(): Promise<ManagementEndpoint[]> {
    return Promise.all(this.management.baseUrls.map((url) => this.endpoint(url)));
  }

  private async endpoint(url: string): Promise<ManagementEndpoint> {
    try {
      const overview = await this.management.getFrom(url, '/api/overview', nodeOverviewSchema);
      const { node } = overview;
      this.nodeOfUrl.set(url, node);
      const versions = {
        ...(overview.rabbitmq_version ? { version: overview.rabbitmq_version } : {}),
        ...(overview.erlang_version ? { erlangVersion: overview.erlang_version } : {}),
      };
      const ask = (name: string): Promise<HealthEndpointResult | undefined> =>
        this.management.healthCheckOf(url, name).catch(() => undefined);
      // 4.0 has no classic mirrors, and this endpoint answers 404 there: not asked, and the check says why
      const version = parseBrokerVersion(overview.rabbitmq_version);
      const mirrors = version === undefined || hasClassicMirroring(version);
      const [mirrorSyncCritical, quorumCritical, alarms] = await Promise.all([
        mirrors ? ask('node-is-mirror-sync-critical') : undefined,
        ask('node-is-quorum-critical'),
        ask('local-alarms'),
      ]);
      return { url, node, reachable: true, ...versions, health: { mirrorSyncCritical, quorumCritical, alarms } };
    } catch (error) {
      return { url, node: this.nodeOfUrl.get(url), reachable: false, error: reason(error) };
    }
  }

  private async queues(): Promise<{ queues: QueueInfo[]; depths: DepthSource }> {
    let depths: DepthSource = { from: 'management' };
    let queues: QueueInfo[] | undefined;
    if (this.queueMetrics && this.pageSize === 0) {
      try {
        queues = await this.queuesWithMetrics(this.queueMetrics);
        depths = { from: 'prometheus' };
      } catch (error) {
        // The management API can always tell, only slower: the sweep goes on with it and says why.
        depths = { from: 'management', fallback: reason(error) };
      }
    }
    queues ??= await this.queuesWithTotals();
    await this.refreshMirrorState(queues);
    return { queues, depths };
  }

  /**
   * The cheap listing (no depths: no queue process is asked) and every node's metrics at the same time. Each queue
   * takes its figures from the node that hosts it (a quorum queue's leader): another node's table may hold a stale
   * row from before the queue moved. A queue hosted on a node whose metrics did not come is a reason to fall back,
   * not a zero. A queue the metrics do not know yet (declared within the last stats interval) counts as empty and
   * unconsumed, which no check alerts on.
   */
  private async queuesWithMetrics(metrics: PrometheusQueueMetrics): Promise<QueueInfo[]> {
    const [listed, perNode] = await Promise.all([
      this.management.get('/api/queues', queuesSchema, { disable_stats: 'true', sort: '' }, this.listing),
      metrics.readAll(),
    ]);
    const byNode = new Map(perNode.answers.map((answer) => [answer.node, answer.queues]));
    const missing = new Set<string>();
    const queues = listed.sort(byVhostAndName).map((q) => {
      const host = q.node ?? q.leader ?? undefined;
      const nodeQueues = host === undefined ? undefined : byNode.get(host);
      if (host !== undefined && !nodeQueues) missing.add(host);
      const depth = nodeQueues?.get(q.vhost)?.get(q.name);
      return Object.assign(q, depth ?? NO_DEPTH_YET);
    });
    if (missing.size > 0) {
      const failures = perNode.failures.length > 0 ? `: ${perNode.failures.join('; ')}` : '';
      throw new QueueMetricsError(`no queue metrics from ${[...missing].sort().join(', ')}${failures}`);
    }
    return queues;
  }

  private async queuesWithTotals(): Promise<QueueInfo[]> {
    // The listing leaves `consumers` out: they are counted from /api/consumers, and a queue missing from the
    // consumer list has none. The two are asked at the same time: the queue listing spends most of its time waiting
    // for every queue process to report its depths, and the consumer listing (1–2 s at 30,000 queues) fits in that
    // wait; asked first, it delayed the queue listing by about its own time.
    // Neither is sorted by the broker (`sort=`): sorting 30,000 queues costs it about half a second, consumers need
    // no order, and the queues are put back in the broker's order here in a few milliseconds.
    const [consumerList, queues] = await Promise.all([
      this.management.get(
        '/api/consumers',
        consumersSchema,
        { columns: CONSUMER_QUEUE_COLUMNS, sort: '' },
        this.listing,
      ),
      // In one request, without `columns`: with totals the broker lists the same fixed set of fields either way
      // (those of QUEUE_COLUMNS), and picking them costs it another half second at 30,000 queues. Pages keep the
      // broker's sort, without which they would not line up, and the columns, which it picks from one page only.
      this.pageSize === 0
        ? this.management
            .get('/api/queues', queuesSchema, { ...QUEUE_TOTALS, sort: '' }, this.listing)
            .then((listed) => listed.sort(byVhostAndName))
        : this.list('/api/queues', queueSchema, { ...QUEUE_TOTALS, columns: QUEUE_COLUMNS }),
    ]);
    const consumers = consumerCounts(consumerList);
    // The parsed items are ours: counting in place spares a copy of every queue on a large cluster.
    return queues.map((q) => Object.assign(q, { consumers: consumers.get(queueKey(q)) ?? 0 }));
  }

  /** Replaces the lagging mirror fields of the mirrored queues that hold messages with current ones. */
  private async refreshMirrorState(queues: QueueInfo[]): Promise<void> {
    const candidates = queues.filter(
      (q) => q.type === 'classic' && q.messages > 0 && (q.policy || (q.slave_nodes?.length ?? 0) > 0),
    );
    if (candidates.length === 0) return;
    let states: MirrorState[];
    if (candidates.length <= MIRROR_REFRESH_ONE_BY_ONE) {
      states = [];
      for (let i = 0; i < candidates.length; i += MIRROR_REFRESH_PARALLEL) {
        const batch = candidates.slice(i, i + MIRROR_REFRESH_PARALLEL).map((q) =>
          this.management
            .get(`/api/queues/${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}`, mirrorStateSchema, {
              columns: MIRROR_COLUMNS,
            })
            // Deleted since the listing: nothing to correct.
            .catch(() => undefined),
        );
        for (const state of await Promise.all(batch)) if (state) states.push(state);
      }
    } else {
      states = await this.management.get('/api/queues', mirrorStatesSchema, { columns: MIRROR_COLUMNS });
    }
    const byKey = new Map(states.map((state) => [queueKey(state), state]));
    for (const q of candidates) {
      const state = byKey.get(queueKey(q));
      if (!state) continue;
      q.slave_nodes = state.slave_nodes;
      q.synchronised_slave_nodes = state.synchronised_slave_nodes;
      if (state.node) q.node = state.node;
    }
  }

  /**
   * Each stream's replicas, from its own stats (columns-limited), a few at a time. A stream deleted since the
   * listing (404) is left out; any other failure fails the part, so the stream checks cannot run rather than pass.
   */
  private async streamReplicas(queues: readonly QueueInfo[]): Promise<StreamReplicas[]> {
    const streams = queues.filter((q) => q.type === 'stream');
    const replicas: StreamReplicas[] = [];
    for (let i = 0; i < streams.length; i += MIRROR_REFRESH_PARALLEL) {
      const batch = streams
        .slice(i, i + MIRROR_REFRESH_PARALLEL)
        .map((q) => fetchStreamReplicas(this.management, q.vhost, q.name, this.streamMembers));
      for (const state of await Promise.all(batch)) if (state) replicas.push(state);
    }
    return replicas;
  }

  /** The cluster's unroutable totals, from /api/overview (management API: always there). */
  private async counters(): Promise<BrokerCounters> {
    const overview = await this.management.get('/api/overview', overviewCountersSchema);
    return {
      unroutableDropped: overview.message_stats?.drop_unroutable ?? 0,
      unroutableReturned: overview.message_stats?.return_unroutable ?? 0,
    };
  }

  /** Every node's drop counters: all must answer, since a node counts only its own drops. */
  private nodeCounters(): Promise<NodeDropCounters[]> {
    return (this.dropCounters as PrometheusDropCounters).readAll();
  }

  /**
   * `/api/deprecated-features/used` (3.13 and later). A broker without it answers 404, or 406 when asked for JSON
   * (3.10): nothing to judge, no error.
   */
  private async deprecatedFeatures(): Promise<{ name: string; phase?: string }[] | undefined> {
    try {
      const used = await this.management.get('/api/deprecated-features/used', deprecatedFeaturesSchema);
      return used.map((f) => ({ name: f.name, ...(f.deprecation_phase ? { phase: f.deprecation_phase } : {}) }));
    } catch (error) {
      if (error instanceof ManagementApiError && (error.status === 404 || error.status === 406)) return undefined;
      throw error;
    }
  }

  /** Like the queue listing: every page would cost the broker the whole listing. */
  private connections(): Promise<ConnectionInfo[]> {
    return this.list('/api/connections', connectionSchema, { columns: CONNECTION_COLUMNS });
  }
}
