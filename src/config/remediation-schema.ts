/**
 * The `remediation` section: how long an approval request waits, how long the audit trail is kept, and the limits
 * that bound what one run may touch.
 */
import { z } from 'zod';
import { duration } from './duration.js';

export const remediationSchema = z.strictObject({
  /** A request for approval that nobody approved within this time expires and can no longer run. */
  approvalTtl: duration({ min: '10s' }).prefault('15m'),
  /** Audit entries older than this are trimmed from the stream. */
  auditRetention: duration({ min: '1h' }).prefault('90d'),
  /** At most this many queues (or connections) are changed by one run; the rest wait for the next one. */
  maxItemsPerRun: z.number().int().positive().max(500).default(50),
  /**
   * delete-zombie-queues: a fanout queue without a live sibling qualifies only when idle (no deliveries, no
   * publishes) for this long, so a topic whose servers are all restarting is not emptied under them.
   */
  zombieIdleAfter: duration({ min: '0s' }).prefault('10m'),
});
export type RemediationConfig = z.infer<typeof remediationSchema>;
