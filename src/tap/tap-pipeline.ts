/**
 * What happens to one delivery: decode, extract facts, route, record into its group, and the count of every
 * delivery by outcome. Bad input is counted by reason and logged as a sample at most once per reason per minute;
 * it is never thrown, so the consumer always acks and a poison message can never block the queue. This runs for
 * every event of the INFO stream, so what needs no I/O is settled synchronously.
 */

import { LogThrottle } from '../log-throttle.js';
import type { Logger } from '../logger.js';
import type { AlertGrouper } from './alert-grouper.js';
import { decodeNotification, type InvalidReason, type OsloNotification } from './notification-envelope.js';
import { extractFacts, type NotificationFacts } from './notification-facts.js';
import type { NotificationRouter, RouteDecision, TapEvent } from './notification-router.js';
import type { TapMetrics } from './tap-metrics.js';

export type DeliveryOutcome = 'new' | 'grouped' | 'duplicate' | 'dropped' | 'unrouted' | 'no_channel' | 'invalid';

export interface TapPipelineOptions {
  cluster: string;
  /** The vhost the deliveries come from (one pipeline per tap, and a tap listens in one vhost). */
  vhost?: string;
  maxBodyBytes: number;
  router: NotificationRouter;
  grouper: AlertGrouper;
  metrics: TapMetrics;
  logger: Logger;
  now?: () => number;
}

export interface TapCounters {
  received: number;
  invalid: number;
  lastEventAt?: number;
}

/**
 * A decoded delivery on its way through routing. Most of the INFO stream is never posted, so facts are extracted
 * only for events a route looks at them for. A class, not an object literal with a getter: V8 gives every such
 * literal its own hidden class, which costs a microsecond per event and keeps the whole decoded notification alive
 * past young-generation collections.
 */
class DeliveryEvent implements TapEvent {
  private extracted?: NotificationFacts;

  constructor(
    readonly cluster: string,
    readonly vhost: string | undefined,
    readonly exchange: string,
    readonly routingKey: string,
    readonly notification: OsloNotification,
  ) {}

  get facts(): NotificationFacts {
    this.extracted ??= extractFacts(this.notification);
    return this.extracted;
  }
}

export class TapPipeline {
  readonly counters: TapCounters = { received: 0, invalid: 0 };
  private readonly sampleLog: LogThrottle;
  /** Outcomes counted since the metric was last read; added to it when it is read (see beforeEventsRead). */
  private readonly uncounted = new Map<DeliveryOutcome, number>();
  private readonly now: () => number;

  constructor(private readonly options: TapPipelineOptions) {
    this.now = options.now ?? Date.now;
    this.sampleLog = new LogThrottle(60_000, this.now);
    options.metrics.beforeEventsRead(() => this.flushCounts());
  }

  /**
   * Handles one delivery. Most events (bad input, and everything no route posts) are settled without any I/O, and
   * their outcome is returned at once rather than as a promise: at tens of thousands of events per second the
   * promises and microtask turns of an async call are a measurable part of the work. Events recorded in Redis
   * return a promise. Throws, or rejects, only when the event could not be recorded (Redis unreachable).
   */
  handle(exchange: string, routingKey: string, body: Buffer): DeliveryOutcome | Promise<DeliveryOutcome> {
    this.counters.received++;
    this.counters.lastEventAt = this.now();
    const outcome = this.process(exchange, routingKey, body);
    if (typeof outcome === 'string') {
      this.count(outcome);
      return outcome;
    }
    return outcome.then((recorded) => {
      this.count(recorded);
      return recorded;
    });
  }

  private count(outcome: DeliveryOutcome): void {
    this.uncounted.set(outcome, (this.uncounted.get(outcome) ?? 0) + 1);
  }

  private flushCounts(): void {
    const { cluster, metrics } = this.options;
    for (const [outcome, n] of this.uncounted) metrics.events.inc({ cluster, outcome }, n);
    this.uncounted.clear();
  }

  private process(exchange: string, routingKey: string, body: Buffer): DeliveryOutcome | Promise<DeliveryOutcome> {
    const decoded = decodeNotification(body, { maxBytes: this.options.maxBodyBytes });
    if (!decoded.ok) {
      this.invalid(decoded.reason, decoded.detail, exchange, routingKey);
      return 'invalid';
    }
    const event = new DeliveryEvent(
      this.options.cluster,
      this.options.vhost,
      exchange,
      routingKey,
      decoded.notification,
    );
    const outcome = this.options.router.route(event);
    if (outcome.kind === 'drop') return 'dropped';
    if (outcome.kind === 'unrouted') return 'unrouted';
    if (outcome.kind === 'no_channel') {
      this.sampleLog.pass(`no_channel:${outcome.route}`, () =>
        this.options.logger.warn(
          { route: outcome.route },
          'tap route matched but names no channel and slack.alertChannel is not set; event not posted',
        ),
      );
      return 'no_channel';
    }
    return this.record(event, outcome.decisions);
  }

  private async record(event: TapEvent, decisions: RouteDecision[]): Promise<DeliveryOutcome> {
    const results = [];
    for (const decision of decisions) results.push(await this.options.grouper.record(event, decision));
    if (results.includes('new')) return 'new';
    return results.includes('grouped') ? 'grouped' : 'duplicate';
  }

  private invalid(reason: InvalidReason, detail: string, exchange: string, routingKey: string): void {
    this.counters.invalid++;
    this.options.metrics.invalid.inc({ cluster: this.options.cluster, reason });
    this.sampleLog.pass(`invalid:${reason}`, () =>
      this.options.logger.warn(
        { cluster: this.options.cluster, reason, detail, exchange, routingKey },
        'invalid notification acked and counted (one sample per reason per minute)',
      ),
    );
  }
}
