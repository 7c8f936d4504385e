import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../src/config/tap-schema.js';
import { decodeNotification } from '../../src/tap/notification-envelope.js';
import { extractFacts } from '../../src/tap/notification-facts.js';
import { NotificationRouter, type TapEvent } from '../../src/tap/notification-router.js';

function event(file: string, exchange = 'nova', change?: (raw: Record<string, unknown>) => void): TapEvent {
  const raw = JSON.parse(readFileSync(new URL(`../fixtures/oslo/${file}`, import.meta.url), 'utf8'));
  change?.(raw);
  const decoded = decodeNotification(Buffer.from(JSON.stringify(raw)), { maxBytes: 1e6 });
  if (!decoded.ok) throw new Error(decoded.detail);
  return {
    cluster: 'prod',
    exchange,
    routingKey: 'x',
    notification: decoded.notification,
    facts: extractFacts(decoded.notification),
  };
}

const defaults = new NotificationRouter({ alertChannel: 'C0ALERTS', groupBy: ['eventType', 'service', 'host'] });

describe('NotificationRouter with the default routes', () => {
  it('posts errors to the alert channel with a title naming event, service and host', () => {
    expect(defaults.route(event('nova-legacy-compute.instance.create.error.v1.json'))).toEqual({
      kind: 'post',
      decisions: [
        {
          route: 'errors',
          channel: 'C0ALERTS',
          severity: 'error',
          title: 'compute.instance.create.error from compute on cmp-01.dc1.example.net',
          groupBy: ['eventType', 'service', 'host'],
        },
      ],
    });
  });

  it('groups warnings coarser and leaves ordinary INFO unposted', () => {
    const warn = defaults.route(
      event('nova-legacy-compute.instance.create.error.v1.json', 'nova', (r) => (r.priority = 'WARN')),
    );
    expect(warn).toMatchObject({
      kind: 'post',
      decisions: [{ route: 'warnings', severity: 'warning', groupBy: ['eventType', 'service'] }],
    });
    expect(defaults.route(event('glance-image.activate.v1.json', 'glance'))).toEqual({ kind: 'unrouted' });
  });

  it('posts service.update only when the service is forced down or disabled', () => {
    const forced = defaults.route(event('nova-versioned-service.update.v1.json'));
    expect(forced).toMatchObject({ kind: 'post', decisions: [{ route: 'service-forced-down', severity: 'warning' }] });
    const healthy = defaults.route(
      event('nova-versioned-service.update.v1.json', 'nova', (r) => {
        const data = (r.payload as Record<string, Record<string, unknown>>)['nova_object.data'] as Record<
          string,
          unknown
        >;
        data.forced_down = false;
        data.disabled = false;
      }),
    );
    expect(healthy).toEqual({ kind: 'unrouted' });
  });

  it('says when a match has no channel to go to', () => {
    const nowhere = new NotificationRouter({ groupBy: ['eventType'] });
    expect(nowhere.route(event('nova-legacy-compute.instance.create.error.v1.json'))).toEqual({
      kind: 'no_channel',
      route: 'errors',
    });
  });
});

describe('NotificationRouter with configured routes', () => {
  const routes = [
    { name: 'quiet-glance', match: { exchange: ['glance'] }, drop: true },
    {
      name: 'network',
      match: { exchange: ['neutron'], eventType: 'port.*' },
      channel: 'C0NET',
      continue: true,
      template: '{exchange}: {eventType}',
    },
    { name: 'all-errors', match: { priority: ['error'] }, channel: 'C0ALL' },
    { name: 'publisher', match: { publisher: 'network.*' }, channel: 'C0PUB', severity: 'info' },
  ].map((r) => routeSchema.parse(r));
  const router = new NotificationRouter({ routes, alertChannel: 'C0ALERTS', groupBy: ['eventType'] });

  it('drops, matches by glob, continues to later rules and fills templates', () => {
    expect(router.route(event('glance-image.activate.v1.json', 'glance'))).toEqual({
      kind: 'drop',
      route: 'quiet-glance',
    });
    const port = router.route(event('neutron-port.create.end.v1.json', 'neutron', (r) => (r.priority = 'ERROR')));
    expect(port).toMatchObject({
      kind: 'post',
      decisions: [
        { route: 'network', channel: 'C0NET', title: 'neutron: port.create.end', severity: 'error' },
        { route: 'all-errors', channel: 'C0ALL' },
      ],
    });
    expect(router.route(event('neutron-port.create.end.v1.json', 'elsewhere'))).toMatchObject({
      kind: 'post',
      decisions: [{ route: 'publisher', channel: 'C0PUB', severity: 'info' }],
    });
  });

  it('passes over a route whose channel may not see the vhost, and goes on to the next route', () => {
    const scoped = new NotificationRouter({
      routes: [
        { name: 'neutron-team', match: { priority: ['ERROR'] }, channel: 'C0NEUTRON' },
        { name: 'errors', match: { priority: ['ERROR'] } },
      ].map((r) => routeSchema.parse(r)),
      alertChannel: 'C0ALERTS',
      groupBy: ['eventType'],
      channelSees: (channel, vhost) => channel !== 'C0NEUTRON' || vhost === '/neutron',
    });
    const error = (vhost?: string) => ({
      ...event('neutron-port.create.end.v1.json', 'neutron', (r) => (r.priority = 'ERROR')),
      ...(vhost ? { vhost } : {}),
    });
    expect(scoped.route(error('/neutron'))).toMatchObject({ kind: 'post', decisions: [{ channel: 'C0NEUTRON' }] });
    expect(scoped.route(error('/nova'))).toMatchObject({
      kind: 'post',
      decisions: [{ route: 'errors', channel: 'C0ALERTS' }],
    });
    // Where the vhost is not known (one-vhost tools), the scope cannot judge and the route holds.
    expect(scoped.route(error())).toMatchObject({ kind: 'post', decisions: [{ channel: 'C0NEUTRON' }] });
  });

  it('rejects bad rules at config time', () => {
    expect(routeSchema.safeParse({ match: { priority: ['LOUD'] } }).error?.issues[0]?.message).toBe(
      'not a priority (one of AUDIT, DEBUG, INFO, WARN, ERROR, CRITICAL, SAMPLE)',
    );
    expect(routeSchema.safeParse({ channel: '#ops' }).success).toBe(false);
  });
});
