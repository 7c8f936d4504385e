/**
 * What one sweep knows about a cluster: everything the checks judge, fetched once per sweep by the snapshot
 * fetcher. A part that could not be fetched is `undefined`, never an empty list, so a check that needs it is
 * skipped (its alert neither fires nor resolves) instead of concluding that all is well.
 */
import type { NodeBoot } from '../cluster/boot-watch.js';
import type { NodePartitionHandling } from '../cluster/partition-handling-reader.js';
import {
  type BrokerVersion,
  clusterBrokerVersion,
  compareVersions,
  parseBrokerVersion,
} from '../management/broker-version.js';
import type { NodeDropCounters } from '../management/prometheus-broker-counters.js';
import type {
  ManagementConnection,
  ManagementFeatureFlag,
  ManagementNode,
  ManagementPolicy,
  ManagementQueue,
} from '../management/schemas.js';
import type { BrokerCounters } from './drop-counters.js';

/** A queue with its consumer count always known (filled from /api/consumers when listed without stats). */
export type QueueInfo = ManagementQueue & { consumers: number };

export type ConnectionInfo = ManagementConnection;
export type PolicyInfo = ManagementPolicy;

/** The answer of one per-node health endpoint (`/api/health/checks/…`): 200 is ok, 503 carries a reason. */
export interface HealthEndpointResult {
  ok: boolean;
  reason?: string;
}

/** One management URL as this sweep saw it. Health endpoints judge the node that serves them, so each is asked. */
export interface ManagementEndpoint {
  url: string;
  /** The node behind the URL, from its /api/overview (or remembered from an earlier sweep when it is down now). */
  node?: string;
  reachable: boolean;
  error?: string;
  /** The node's RabbitMQ and Erlang versions, from its /api/overview. */
  version?: string;
  erlangVersion?: string;
  /** Present when the URL answered: node-is-mirror-sync-critical, node-is-quorum-critical, alarms. */
  health?: {
    mirrorSyncCritical?: HealthEndpointResult;
    quorumCritical?: HealthEndpointResult;
    alarms?: HealthEndpointResult;
  };
}

export type SnapshotPart =
  | 'nodes'
  | 'queues'
  | 'connections'
  | 'policies'
  | 'featureFlags'
  | 'counters'
  | 'nodeCounters'
  | 'deprecatedFeatures'
  | 'endpoints'
  | 'streams'
  | 'partitionHandling'
  | 'booting';

/**
 * A stream as its own stats tell it (`/api/queues/{vhost}/{name}`): the cheap queue listing gives a stream only
 * `online`, never its `members`, `leader` or effective policy, so the fetcher asks each stream (few per cluster:
 * oslo declares one per topic).
 */
export interface StreamReplicas {
  vhost: string;
  name: string;
  arguments: Record<string, unknown>;
  /** The policy in effect and its definition, as the broker resolved it (no policymaker tag needed). */
  policy?: string;
  effectivePolicy?: Record<string, unknown>;
  /**
   * Absent when the stats did not list them (the stream's coordinator did not answer), or listed two different sets
   * that the broker itself could not settle (`uncertain`): not judged then.
   */
  members?: string[];
  /** Why the members are not known: the management API answered two lists and node control could not settle it. */
  uncertain?: string;
  online: string[];
  leader?: string;
}

/**
 * Where this sweep's queue depths and consumer counts came from: the Prometheus plugin's metrics when the cluster
 * names its endpoints and every node hosting a queue answered, else the management API (`fallback` says why it
 * was not the metrics).
 */
export type DepthSource = { from: 'prometheus' } | { from: 'management'; fallback?: string };

export interface ClusterSnapshot {
  cluster: string;
  /** Epoch ms when fetching started. */
  takenAt: number;
  endpoints: ManagementEndpoint[];
  nodes?: ManagementNode[];
  queues?: QueueInfo[];
  depths?: DepthSource;
  connections?: ConnectionInfo[];
  policies?: PolicyInfo[];
  /** The feature flags and their states: which metadata store (`khepri_db`), and what blocks the next upgrade. */
  featureFlags?: ManagementFeatureFlag[];
  /** The cluster's counts of unroutable messages (judged by their increase between sweeps). */
  counters?: BrokerCounters;
  /**
   * Each node's drop counters from its Prometheus plugin; undefined without `clusters[].prometheus`, since the
   * management API has no count of messages dropped past a quorum queue's delivery limit.
   */
  nodeCounters?: NodeDropCounters[];
  /** Deprecated features in use (`/api/deprecated-features/used`); undefined where the broker has no such list. */
  deprecatedFeatures?: { name: string; phase?: string }[];
  /** The replicas of every stream in `queues`; undefined when the queues or any stream's stats could not be read. */
  streams?: StreamReplicas[];
  /**
   * Each running node's `cluster_partition_handling`, read through node control (cached for minutes: it is
   * configuration); undefined without `clusters[].nodeControl`, or when no node could be read.
   */
  partitionHandling?: NodePartitionHandling[];
  /**
   * The nodes that do not run but are booting, asked through node control (boot-watch.ts), with since when warren
   * has seen them booting; undefined without `clusters[].nodeControl`.
   */
  booting?: NodeBoot[];
  /** Why a part is missing, for the sweep's log line and `/rabbit health`. */
  errors: Partial<Record<SnapshotPart, string>>;
  /**
   * Parts this cluster's configuration never provides, with why (the partition handling without node control): a
   * check that needs one is not applicable there, instead of failing to run on every sweep.
   */
  unavailable?: Partial<Record<SnapshotPart, string>>;
}

/** A queue's identity inside a cluster; names repeat across vhosts. */
export function queueKey(queue: { vhost: string; name: string }): string {
  return `${queue.vhost}/${queue.name}`;
}

/**
 * The cluster's RabbitMQ version for deciding what applies: the oldest running node's (a cluster mid-upgrade offers
 * only what all its nodes offer), from /api/nodes, else from the management URLs that answered.
 */
export function snapshotVersion(snapshot: Pick<ClusterSnapshot, 'nodes' | 'endpoints'>): BrokerVersion | undefined {
  const fromNodes = clusterBrokerVersion((snapshot.nodes ?? []).filter((n) => n.running));
  if (fromNodes) return fromNodes;
  const fromEndpoints = snapshot.endpoints.flatMap((e) => parseBrokerVersion(e.version) ?? []);
  return fromEndpoints.sort(compareVersions)[0];
}

export function hasParts(snapshot: ClusterSnapshot, parts: readonly SnapshotPart[]): boolean {
  return parts.every((part) => part === 'endpoints' || snapshot[part] !== undefined);
}
