import { describe, expect, it } from 'vitest';
import { tapSchema } from '../../src/config/tap-schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { NotificationTap } from '../../src/tap/notification-tap.js';
import { createTapMetrics } from '../../src/tap/tap-metrics.js';
import type { TapPipeline } from '../../src/tap/tap-pipeline.js';

const pipeline = { counters: { received: 0, invalid: 0 } } as unknown as TapPipeline;

function tap(tapBindings?: Array<{ exchange: string; routingKeys: string[] }>) {
  return new NotificationTap({
    cluster: {
      name: 'east',
      amqp: ['amqp://h1', 'amqp://h2'],
      management: ['http://h1:15672'],
      managementUser: 'u',
      managementPassword: 'p',
      vhost: '/',
      tapBindings,
    },
    tap: tapSchema.parse({}),
    pipeline,
    metrics: createTapMetrics(createMetrics().registry),
    logger: createLogger('silent'),
  });
}

describe('NotificationTap bindings', () => {
  it('uses the default OpenStack exchanges, or the cluster’s own bindings when it has them', () => {
    expect(
      tap()
        .status()
        .bindings.map((b) => b.exchange),
    ).toEqual(['nova', 'neutron', 'glance', 'keystone', 'heat', 'openstack']);
    expect(tap().status().bindings[0]?.routingKeys).toContain('versioned_notifications.error');
    const own = tap([{ exchange: 'nova', routingKeys: ['notifications.error'] }]).status();
    expect(own.bindings).toEqual([{ exchange: 'nova', routingKeys: ['notifications.error'], state: 'pending' }]);
    expect(own).toMatchObject({ cluster: 'east', connected: false, paused: false, received: 0, eventsPerSecond: 0 });
  });
});
