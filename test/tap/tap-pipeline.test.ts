/**
 * TapPipeline without broker or Redis: which outcome each delivery gets, which are settled at once (no promise) and
 * which wait for the grouper, and that every one is counted in warren_tap_events_total by outcome.
 */
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../src/config/tap-schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import type { AlertGrouper, RecordResult } from '../../src/tap/alert-grouper.js';
import { NotificationRouter } from '../../src/tap/notification-router.js';
import { createTapMetrics } from '../../src/tap/tap-metrics.js';
import { TapPipeline } from '../../src/tap/tap-pipeline.js';

function body(priority: string, eventType = 'compute.instance.update'): Buffer {
  const message = {
    message_id: `m-${priority}-${eventType}`,
    publisher_id: 'compute.cmp-01',
    event_type: eventType,
    priority,
    payload: { instance_id: 'i-1' },
    timestamp: '2026-11-22 13:23:30.497700',
  };
  return Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(message) }));
}

/** A pipeline whose grouper answers new, grouped, duplicate, then grouped (or fails, when told to). */
function setup(failWith?: Error) {
  const recorded: string[] = [];
  const answers: RecordResult[] = ['new', 'grouped', 'duplicate'];
  const grouper = {
    record: async (event: { notification: { eventType: string } }) => {
      if (failWith) throw failWith;
      recorded.push(event.notification.eventType);
      return answers.shift() ?? 'grouped';
    },
  } as unknown as AlertGrouper;
  const registry = createMetrics().registry;
  const metrics = createTapMetrics(registry);
  const routes = [
    routeSchema.parse({ name: 'quiet', match: { eventType: 'image.*' }, drop: true }),
    routeSchema.parse({ name: 'errors', match: { priority: ['ERROR'] } }),
  ];
  const pipeline = new TapPipeline({
    cluster: 'east',
    maxBodyBytes: 4096,
    router: new NotificationRouter({ routes, alertChannel: 'C0ALERTS', groupBy: ['eventType'] }),
    grouper,
    metrics,
    logger: createLogger('silent'),
  });
  const counted = async (name: string) => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return Object.fromEntries(
      values.map((v) => [`${v.labels.cluster}/${v.labels.outcome ?? v.labels.reason}`, v.value]),
    );
  };
  return { pipeline, recorded, counted };
}

describe('TapPipeline', () => {
  it('settles bad input and events no route posts at once, without a promise', () => {
    const { pipeline, recorded } = setup();
    expect(pipeline.handle('nova', 'notifications.info', body('INFO'))).toBe('unrouted');
    expect(pipeline.handle('glance', 'notifications.info', body('INFO', 'image.activate'))).toBe('dropped');
    expect(pipeline.handle('nova', 'notifications.info', Buffer.from('not json'))).toBe('invalid');
    expect(pipeline.handle('nova', 'notifications.info', Buffer.alloc(5000, 0x20))).toBe('invalid');
    expect(recorded).toEqual([]);
    expect(pipeline.counters).toMatchObject({ received: 4, invalid: 2 });
  });

  it('hands routed events to the grouper and answers with its verdict', async () => {
    const { pipeline, recorded } = setup();
    const first = pipeline.handle('nova', 'notifications.error', body('ERROR', 'compute.instance.create.error'));
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe('new');
    expect(await pipeline.handle('nova', 'notifications.error', body('ERROR'))).toBe('grouped');
    expect(await pipeline.handle('nova', 'notifications.error', body('ERROR'))).toBe('duplicate');
    expect(recorded).toEqual(['compute.instance.create.error', 'compute.instance.update', 'compute.instance.update']);
  });

  it('counts every event by outcome and invalid ones by reason, as of each read of the metrics', async () => {
    const { pipeline, counted } = setup();
    for (let i = 0; i < 3; i++) pipeline.handle('nova', 'notifications.info', body('INFO'));
    pipeline.handle('nova', 'notifications.info', Buffer.from('{"oslo.version": "2.0"}'));
    await pipeline.handle('nova', 'notifications.error', body('ERROR'));
    expect(await counted('warren_tap_events_total')).toEqual({ 'east/unrouted': 3, 'east/invalid': 1, 'east/new': 1 });
    expect(await counted('warren_tap_invalid_total')).toEqual({ 'east/envelope': 1 });
    pipeline.handle('nova', 'notifications.info', body('INFO'));
    await pipeline.handle('nova', 'notifications.error', body('ERROR'));
    expect(await counted('warren_tap_events_total')).toEqual({
      'east/unrouted': 4,
      'east/invalid': 1,
      'east/new': 1,
      'east/grouped': 1,
    });
  });

  it('rejects when the grouper cannot record, so the delivery is retried rather than counted', async () => {
    const { pipeline, counted } = setup(new Error('redis down'));
    await expect(pipeline.handle('nova', 'notifications.error', body('ERROR'))).rejects.toThrow('redis down');
    expect(pipeline.handle('nova', 'notifications.info', body('INFO'))).toBe('unrouted');
    expect(await counted('warren_tap_events_total')).toEqual({ 'east/unrouted': 1 });
  });
});
