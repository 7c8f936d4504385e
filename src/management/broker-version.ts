/**
 * Owns what warren knows about RabbitMQ versions: parsing a node's version, and the facts that differ between the
 * series our users run (3.10 to 4.x, ../shared/RUNBOOK.md section 4). Checks, commands and workflows ask these
 * questions here instead of comparing version strings themselves. Pure: no I/O.
 */
import type { ManagementNode } from './schemas.js';

export interface BrokerVersion {
  /** As the broker reports it, e.g. '4.0.5' or '3.13.7+1.g0f5d2e9'. */
  raw: string;
  major: number;
  minor: number;
  patch: number;
}

export function parseBrokerVersion(raw: string | undefined | null): BrokerVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(raw ?? '');
  if (!m) return undefined;
  return { raw: raw as string, major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function atLeast(version: BrokerVersion, major: number, minor = 0): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/** 'major.minor', the series a version belongs to, e.g. '4.0'. */
export function seriesOf(version: BrokerVersion): string {
  return `${version.major}.${version.minor}`;
}

/** The node's RabbitMQ version, from the `rabbit` application it lists in /api/nodes (absent when it is down). */
export function nodeBrokerVersion(node: Pick<ManagementNode, 'applications'>): BrokerVersion | undefined {
  return parseBrokerVersion(node.applications?.find((a) => a.name === 'rabbit')?.version);
}

/**
 * The cluster's version as far as a feature is concerned: the oldest running node's, since a mixed cluster (mid
 * upgrade) offers only what every node offers. Undefined when no node told its version.
 */
export function clusterBrokerVersion(
  nodes: readonly Pick<ManagementNode, 'applications'>[],
): BrokerVersion | undefined {
  let oldest: BrokerVersion | undefined;
  for (const node of nodes) {
    const v = nodeBrokerVersion(node);
    if (v && (!oldest || compareVersions(v, oldest) < 0)) oldest = v;
  }
  return oldest;
}

export function compareVersions(a: BrokerVersion, b: BrokerVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** Classic queue mirroring (ha-* policies, mirror sync, node-is-mirror-sync-critical) was removed in 4.0. */
export function hasClassicMirroring(version: BrokerVersion): boolean {
  return !atLeast(version, 4, 0);
}

/** Quorum queues get a default delivery limit of 20 from 4.0 on; before, none. */
export function defaultQuorumDeliveryLimit(version: BrokerVersion): number | undefined {
  return atLeast(version, 4, 0) ? 20 : undefined;
}

/**
 * Quorum queue members are added and removed over HTTP (`/api/queues/quorum/…/replicas/add|delete`) on 4.0 and later;
 * 3.10 answers 404. Before 4.0 warren goes through `rabbitmq-queues` instead, which works on every version.
 */
export function hasQuorumMemberEndpoints(version: BrokerVersion): boolean {
  return atLeast(version, 4, 0);
}

/** 4.1 stopped reporting sockets_used/sockets_total. */
export function reportsSocketMetrics(version: BrokerVersion): boolean {
  return !atLeast(version, 4, 1);
}

/** Khepri is the default metadata store for new clusters from 4.2; on 4.0 and 4.1 only with the khepri_db flag. */
export function khepriByDefault(version: BrokerVersion): boolean {
  return atLeast(version, 4, 2);
}

/** The reason text for something that does not exist on this version, e.g. "not applicable on RabbitMQ 4.0". */
export function notApplicableOn(version: BrokerVersion): string {
  return `not applicable on RabbitMQ ${seriesOf(version)}`;
}

/** Where the cluster keeps its metadata (queues, bindings, users): Mnesia, or Khepri (Raft). */
export type MetadataStore = 'mnesia' | 'khepri';

/**
 * The metadata store, from the `khepri_db` feature flag's state when the broker lists that flag (3.13 and later),
 * else from the version: before 4.2 Mnesia, from 4.2 Khepri by default. Undefined when neither is known.
 */
/** The `khepri_db` flag's state in a feature-flag listing; undefined when the broker lists no such flag (before 3.13). */
export function khepriFlag(
  flags: readonly { name: string; state: string }[] | undefined,
): 'enabled' | 'disabled' | undefined {
  const state = flags?.find((f) => f.name === 'khepri_db')?.state;
  return state === 'enabled' || state === 'disabled' ? state : undefined;
}

export function metadataStore(
  version: BrokerVersion | undefined,
  khepriFlag: 'enabled' | 'disabled' | undefined,
): MetadataStore | undefined {
  if (khepriFlag) return khepriFlag === 'enabled' ? 'khepri' : 'mnesia';
  if (!version) return undefined;
  return khepriByDefault(version) ? 'khepri' : 'mnesia';
}

/** What a partition means for that store, in one sentence for an alert or a plan. */
export function partitionMeaning(store: MetadataStore): string {
  return store === 'khepri'
    ? 'Metadata store: Khepri (Raft). cluster_partition_handling modes do not apply: the side holding a majority of the nodes keeps its metadata writable, a minority side cannot change queues, bindings or users until it rejoins.'
    : 'Metadata store: Mnesia. Each side of the partition runs on its own and diverges; it does not heal by itself unless cluster_partition_handling is autoheal or pause_minority.';
}

/** The reason a version has no classic mirroring, and what replaces each of its uses. */
export function classicMirroringReplacement(version: BrokerVersion): string {
  return (
    `Classic queue mirroring was removed in RabbitMQ 4.0 (this cluster runs ${version.raw}): \`ha-*\` policy keys ` +
    'and mirror sync do not exist. What replaces them: quorum queues for data that must survive a node ' +
    '(`x-queue-type: quorum`; in oslo.messaging `rabbit_quorum_queue = true`, and ' +
    '`rabbit_transient_quorum_queue = true` for fanout and reply queues), an `expires` policy so transient queues ' +
    'of dead processes delete themselves (`apply-policy expiry`), `delivery-limit` with a `dead-letter-exchange` ' +
    'for poison messages, and `max-age` retention on streams.'
  );
}
