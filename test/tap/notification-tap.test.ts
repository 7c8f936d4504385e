import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { tapSchema } from '../../src/config/tap-schema.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { amqpUrlVhost, withAmqpVhost } from '../../src/tap/amqp-vhost.js';
import { NotificationTap, vhostRefusal } from '../../src/tap/notification-tap.js';
import { createTapMetrics } from '../../src/tap/tap-metrics.js';
import type { TapPipeline } from '../../src/tap/tap-pipeline.js';
import { TapService } from '../../src/tap/tap-service.js';

const pipeline = { counters: { received: 0, invalid: 0 } } as unknown as TapPipeline;

const east: ClusterConfig = {
  name: 'east',
  amqp: ['amqp://h1', 'amqp://h2'],
  management: ['http://h1:15672'],
  managementUser: 'u',
  managementPassword: 'p',
  vhost: '/',
};

function tap(tapBindings?: Array<{ exchange: string; routingKeys: string[] }>) {
  return new NotificationTap({
    cluster: { ...east, tapBindings },
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

describe('NotificationTap vhosts', () => {
  it('tells a vhost the broker refuses from other connection failures', () => {
    expect(
      vhostRefusal('Connection closed: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - vhost /octavia not found"'),
    ).toBe('vhost_not_found');
    expect(
      vhostRefusal(
        `Connection closed: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - access to vhost '/nova' refused for user 'warren'"`,
      ),
    ).toBe('vhost_access_refused');
    // amqplib's own words for the same refusal, without the broker's text: refused, reason to be asked.
    expect(vhostRefusal('Expected ConnectionOpenOk; got <ConnectionClose channel:0>')).toBeNull();
    expect(vhostRefusal('Handshake terminated by server: 403 (ACCESS-REFUSED)')).toBeUndefined();
    expect(vhostRefusal('connect ECONNREFUSED 127.0.0.1:5672')).toBeUndefined();
  });

  it('reads and replaces the vhost of an AMQP URL, keeping the rest', () => {
    expect(amqpUrlVhost('amqp://u:p@h:5672')).toBe('/');
    expect(amqpUrlVhost('amqp://u:p@h:5672/')).toBe('/');
    expect(amqpUrlVhost('amqp://u:p@h:5672/%2Fnova')).toBe('/nova');
    expect(amqpUrlVhost('amqp://h/oslo')).toBe('oslo');
    expect(withAmqpVhost('amqp://u:p@h:5672?heartbeat=5', '/nova')).toBe('amqp://u:p@h:5672/%2Fnova?heartbeat=5');
    expect(amqpUrlVhost(withAmqpVhost('amqps://h', 'a b/c'))).toBe('a b/c');
  });

  it('runs one tap per vhost, the bindings without one in the URLs’ vhost as before', () => {
    const service = new TapService({
      clusters: [east],
      tap: tapSchema.parse({
        bindings: [
          { exchange: 'nova', vhost: '/nova', routingKeys: ['notifications.error'] },
          { exchange: 'openstack', routingKeys: ['notifications.error'] },
          { exchange: 'neutron', vhost: '/neutron', routingKeys: ['notifications.error'] },
          { exchange: 'glance', vhost: '/', routingKeys: ['notifications.error'] },
          { exchange: 'nova-legacy', vhost: '/nova', routingKeys: ['notifications.error'] },
        ],
      }),
      redis: {} as Redis,
      pacer: new ChannelPacer({} as Redis, 1_000),
      chat: {} as ChatPort,
      metrics: createMetrics(),
      logger: createLogger('silent'),
    });
    expect(service.status().map((s) => [s.cluster, s.vhost, s.bindings.map((b) => b.exchange)])).toEqual([
      ['east', '/nova', ['nova', 'nova-legacy']],
      ['east', '/', ['openstack', 'glance']],
      ['east', '/neutron', ['neutron']],
    ]);
    const perService = new TapService({
      clusters: [{ ...east, name: 'west', amqp: ['amqp://h1/%2Fcloud'] }],
      tap: tapSchema.parse({ vhostPerService: { services: ['nova', 'cinder'] } }),
      redis: {} as Redis,
      pacer: new ChannelPacer({} as Redis, 1_000),
      chat: {} as ChatPort,
      metrics: createMetrics(),
      logger: createLogger('silent'),
    });
    expect(perService.status().map((s) => [s.vhost, s.bindings.map((b) => b.exchange)])).toEqual([
      ['/nova', ['nova']],
      ['/cinder', ['openstack']],
    ]);
    expect(tap().status().vhost).toBe('/');
  });
});
