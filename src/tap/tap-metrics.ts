/** The tap's Prometheus counters, registered on warren's one registry. Every received event lands in exactly one outcome. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface TapMetrics {
  events: Counter<'cluster' | 'outcome'>;
  invalid: Counter<'cluster' | 'reason'>;
  reconnects: Counter<'cluster'>;
  /** 1 while the tap is connected in the vhost, 0 while it is not (node failover, or the vhost refused). */
  vhostUp: Gauge<'cluster' | 'vhost'>;
  /** Connection attempts refused for the vhost: `vhost_not_found` or `vhost_access_refused` (no permission). */
  vhostRefused: Counter<'cluster' | 'vhost' | 'reason'>;
  slack: Counter<'action'>;
  pendingGroups: Gauge;
  /**
   * Registers a function that brings `events` up to date; it runs before every read of that counter (a scrape, a
   * test). Pipelines count outcomes in plain numbers and hand them over here, because prom-client hashes the label
   * set on every `inc()`, a cost paid per event otherwise.
   */
  beforeEventsRead(flush: () => void): void;
}

export function createTapMetrics(registry: Registry): TapMetrics {
  const flushes: Array<() => void> = [];
  return {
    events: new Counter({
      name: 'warren_tap_events_total',
      help: 'Notifications received by the tap, by outcome: new (opened a group), grouped, duplicate, dropped, unrouted, no_channel, invalid.',
      labelNames: ['cluster', 'outcome'] as const,
      registers: [registry],
      collect() {
        for (const flush of flushes) flush();
      },
    }),
    invalid: new Counter({
      name: 'warren_tap_invalid_total',
      help: 'Notifications rejected by the decoder, by reason (oversized, encoding, not_json, envelope, schema). Acked, never requeued.',
      labelNames: ['cluster', 'reason'] as const,
      registers: [registry],
    }),
    reconnects: new Counter({
      name: 'warren_tap_reconnects_total',
      help: 'AMQP reconnections of the tap.',
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    vhostUp: new Gauge({
      name: 'warren_tap_vhost_up',
      help: 'Whether the tap is connected in the vhost (1) or not (0: reconnecting, or the vhost refused).',
      labelNames: ['cluster', 'vhost'] as const,
      registers: [registry],
    }),
    vhostRefused: new Counter({
      name: 'warren_tap_vhost_refused_total',
      help: 'Tap connection attempts refused for their vhost, by reason (vhost_not_found, vhost_access_refused).',
      labelNames: ['cluster', 'vhost', 'reason'] as const,
      registers: [registry],
    }),
    slack: new Counter({
      name: 'warren_tap_slack_total',
      help: 'Slack calls made for grouped tap alerts, by action (post, update, reply, error).',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    pendingGroups: new Gauge({
      name: 'warren_tap_pending_groups',
      help: 'Grouped tap alerts with Slack work queued in Redis.',
      registers: [registry],
    }),
    beforeEventsRead: (flush) => {
      flushes.push(flush);
    },
  };
}
