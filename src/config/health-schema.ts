/**
 * The `health` section: how often each cluster is swept, where alerts go, and the thresholds of the checks.
 * Defaults are the runbook's (docs/checks.md says where each comes from).
 */
import { z } from 'zod';
import { CHECK_IDS } from '../health/check-ids.js';
import { duration } from './duration.js';
import { slackId } from './slack-id.js';

const checkId = z.enum(CHECK_IDS, { error: `not a check id (one of ${CHECK_IDS.join(', ')})` });
const fraction = z.number().gt(0).max(1);
const positiveInt = z.number().int().positive();

export const thresholdsSchema = z.strictObject({
  /** fd, socket, Erlang process and memory use, as a fraction of the node's limit, above which to warn. */
  resourceUsage: fraction.default(0.8),
  /** Ready messages in one queue above which it is a backlog (the runbook's 500). */
  backlogMessages: positiveInt.default(500),
  /** A queue whose ready count rose on this many consecutive sweeps is a growing backlog, whatever its size. */
  growthSweeps: positiveInt.min(2).default(3),
  /** Channels on one connection above which it is a leak (healthy oslo connections hold one). */
  channelsPerConnection: positiveInt.default(100),
  /** Negotiated heartbeat timeouts above this many seconds count as disabled, like 0. */
  heartbeatMaxSeconds: positiveInt.default(600),
  /** A fanout/reply queue whose x-expires is longer than this (or missing) never cleans itself up. */
  zombieMaxExpires: duration({ min: '1s' }).prefault('1h'),
  /** Leaders on the busiest node above this multiple of a fair share (queues / running nodes) is an imbalance. */
  masterImbalance: z.number().gt(1).default(2),
  /** Below this many queues the leader distribution is not judged. */
  masterImbalanceMinQueues: positiveInt.default(30),
  /**
   * Members each quorum queue should have (quorum-members); unset: one on every running node. Set it to the
   * queues' `x-quorum-initial-group-size` (or `quorum_queue.initial_cluster_size`) on clusters larger than that.
   */
  quorumTargetSize: positiveInt.optional(),
  /**
   * A node whose rabbit application has been booting this long is hung (boot-hang). The default is well inside the
   * 5 minutes a boot waits for its peers (10 tries of 30 s), so that they can still be started in time.
   */
  bootHang: duration({ min: '1s' }).prefault('3m'),
  /** Unacknowledged messages above which a queue whose unacked count keeps rising has a stuck consumer. */
  stuckUnacked: positiveInt.default(100),
});
export type HealthThresholds = z.infer<typeof thresholdsSchema>;

export const healthSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Time between two sweeps of a cluster. */
  interval: duration({ min: '1s' }).prefault('30s'),
  /** Where alerts go; default `slack.alertChannel`. */
  channel: slackId.optional(),
  /** A still-firing alert is reminded in its thread this often. */
  repeatInterval: duration({ min: '1s' }).prefault('4h'),
  /** Consecutive failing sweeps before a check fires, for checks without their own entry in `for`. */
  defaultFor: positiveInt.default(2),
  /** Consecutive failing sweeps before a check fires, per check id, e.g. `{ network-partition: 1 }`. */
  for: z.partialRecord(checkId, positiveInt).default({}),
  /** Check ids not to run. */
  disabled: z.array(checkId).default([]),
  /**
   * Queues that must be covered by a mirroring or quorum policy (regex on the queue name), for the
   * policy-coverage check; unset: only expiry coverage of `_fanout_`/`reply_` queues is judged.
   */
  haPattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression')
    .optional(),
  /**
   * Queue and connection listings: 0 asks for each in one request; 1–500 asks for pages of that many items. A
   * page bounds the size of one response, but the broker lists and sorts every item to serve each page, so paging
   * a listing of N items costs the broker about N / pageSize full listings (docs/benchmarks.md has the figures).
   */
  pageSize: z.number().int().min(0).max(500).default(0),
  /** How long one management API request may take before the next node is tried. */
  requestTimeout: duration({ min: '100ms' }).prefault('10s'),
  /**
   * The same for the whole-cluster listings (queues, consumers, connections), which take the broker seconds on a
   * cluster with tens of thousands of queues: a sweep must not give up on a big cluster that is merely big.
   */
  listingTimeout: duration({ min: '100ms' }).prefault('60s'),
  thresholds: thresholdsSchema.prefault({}),
});
export type HealthConfig = z.infer<typeof healthSchema>;
