/**
 * The shape of a health check: a pure function from a fetched cluster snapshot (plus the recent history of queue
 * depths) to findings. Checks do no I/O and keep no state, so each is unit-tested on JSON captured from a real
 * RabbitMQ 3.10 broker; fetching, scheduling and alert state live elsewhere.
 */
import type { HealthThresholds } from '../config/health-schema.js';
import type { BrokerVersion } from '../management/broker-version.js';
import type { CheckId } from './check-ids.js';
import type { ClusterSnapshot, SnapshotPart } from './cluster-snapshot.js';
import type { PreviousCounters } from './drop-counters.js';
import type { Finding } from './finding.js';

/** Depths of one queue at an earlier sweep. */
export interface QueueSample {
  at: number;
  messages: number;
  ready: number;
  unacked: number;
}

/**
 * Earlier sweeps' samples per queue (key: `queueKey`), oldest first, not including the current sweep. Only queues
 * that held messages are remembered, to keep the history small on clusters with tens of thousands of queues.
 */
export type QueueHistory = ReadonlyMap<string, readonly QueueSample[]>;

export interface CheckContext {
  thresholds: HealthThresholds;
  history: QueueHistory;
  /** `health.haPattern`, compiled once: queues that must be mirrored or quorum (policy-coverage); unset: not judged. */
  haPattern?: RegExp;
  /** The cluster's RabbitMQ version (its oldest running node's), when known: some advice differs on 4.x. */
  version?: BrokerVersion;
  /** The drop counters of the previous sweep, to judge their increase; undefined on the first sweep. */
  counters?: PreviousCounters;
  /** When each node was last seen running (stop-order.ts): after a whole-cluster stop, who must start first. */
  lastSeenRunning?: ReadonlyMap<string, number>;
}

export interface HealthCheck {
  /** Stable kebab-case id: used in config (`health.for`, `health.disabled`), silences and alert ids. */
  id: CheckId;
  /** Title of the alert message, e.g. "Zombie fanout queues". */
  title: string;
  /** What to do about it, from the runbook; shown on the alert. */
  hint: string;
  /** The remediation workflow that fixes it, when one exists (the alert's Fix… button). */
  workflow?: string;
  /** Snapshot parts the check judges; when one is missing the check is skipped for that sweep. */
  needs: readonly SnapshotPart[];
  /**
   * Whether the check means anything on this broker version (the cluster's oldest node). Where it does not (mirror
   * sync on 4.0, which has no mirrors), the sweep reports it as not applicable: never passed, never "could not run".
   * Unset: every version.
   */
  appliesTo?: (version: BrokerVersion) => boolean;
  evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[];
}

/** Keeps the literal id, so the list of checks can be checked against CHECK_IDS (checks/index.ts). */
export function defineCheck<I extends CheckId>(check: HealthCheck & { id: I }): HealthCheck & { id: I } {
  return check;
}
