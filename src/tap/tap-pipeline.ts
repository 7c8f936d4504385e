/**
 * What happens to one delivery: decode, extract facts, route, record into its group. Bad input is counted by
 * reason and logged as a sample at most once per reason per minute; it is never thrown, so the consumer always
 * acks and a poison message can never block the queue.
 */
import type { Logger } from '../logger.js';
import type { AlertGrouper } from './alert-grouper.js';
import { decodeNotification, type InvalidReason } from './notification-envelope.js';
import { extractFacts, type NotificationFacts } from './notification-facts.js';
import type { NotificationRouter, TapEvent } from './notification-router.js';
import type { TapMetrics } from './tap-metrics.js';

export type DeliveryOutcome = 'new' | 'grouped' | 'duplicate' | 'dropped' | 'unrouted' | 'no_channel' | 'invalid';

export interface TapPipelineOptions {
  cluster: string;
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

export class TapPipeline {
  readonly counters: TapCounters = { received: 0, invalid: 0 };
  private readonly lastSampleLog = new Map<string, number>();
  private readonly outcomeCounters = new Map<DeliveryOutcome, { inc(): void }>();
  private readonly now: () => number;

  constructor(private readonly options: TapPipelineOptions) {
    this.now = options.now ?? Date.now;
  }

  async handle(exchange: string, routingKey: string, body: Buffer): Promise<DeliveryOutcome> {
    const { cluster, metrics } = this.options;
    this.counters.received++;
    this.counters.lastEventAt = this.now();
    const outcome = await this.process(exchange, routingKey, body);
    // Labelled children are looked up once: this runs for every event of the INFO stream.
    let counter = this.outcomeCounters.get(outcome);
    if (!counter) {
      counter = metrics.events.labels({ cluster, outcome });
      this.outcomeCounters.set(outcome, counter);
    }
    counter.inc();
    return outcome;
  }

  private async process(exchange: string, routingKey: string, body: Buffer): Promise<DeliveryOutcome> {
    const decoded = decodeNotification(body, { maxBytes: this.options.maxBodyBytes });
    if (!decoded.ok) {
      this.invalid(decoded.reason, decoded.detail, exchange, routingKey);
      return 'invalid';
    }
    const notification = decoded.notification;
    let facts: NotificationFacts | undefined;
    const event: TapEvent = {
      cluster: this.options.cluster,
      exchange,
      routingKey,
      notification,
      // Most of the INFO stream is never posted: extract facts only for events a route looks at them for.
      get facts() {
        facts ??= extractFacts(notification);
        return facts;
      },
    };
    const outcome = this.options.router.route(event);
    if (outcome.kind === 'drop') return 'dropped';
    if (outcome.kind === 'unrouted') return 'unrouted';
    if (outcome.kind === 'no_channel') {
      this.logOnce(`no_channel:${outcome.route}`, () =>
        this.options.logger.warn(
          { route: outcome.route },
          'tap route matched but names no channel and slack.alertChannel is not set; event not posted',
        ),
      );
      return 'no_channel';
    }
    const results = [];
    for (const decision of outcome.decisions) results.push(await this.options.grouper.record(event, decision));
    if (results.includes('new')) return 'new';
    return results.includes('grouped') ? 'grouped' : 'duplicate';
  }

  private invalid(reason: InvalidReason, detail: string, exchange: string, routingKey: string): void {
    this.counters.invalid++;
    this.options.metrics.invalid.inc({ cluster: this.options.cluster, reason });
    this.logOnce(`invalid:${reason}`, () =>
      this.options.logger.warn(
        { cluster: this.options.cluster, reason, detail, exchange, routingKey },
        'invalid notification acked and counted (one sample per reason per minute)',
      ),
    );
  }

  private logOnce(key: string, log: () => void): void {
    const last = this.lastSampleLog.get(key) ?? 0;
    if (this.now() - last >= 60_000) {
      this.lastSampleLog.set(key, this.now());
      log();
    }
  }
}
