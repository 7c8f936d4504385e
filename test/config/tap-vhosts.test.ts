/** The tap's vhost forms: `bindings[].vhost`, and `vhostPerService` as the one line for a vhost per service. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BINDINGS, tapSchema } from '../../src/config/tap-schema.js';
import { loadYaml as load, yamlProblems as problems } from '../support/config-file.js';

/** The routing keys of every default binding. */
const KEYS = DEFAULT_BINDINGS[0]?.routingKeys;

describe('tap vhosts in the config', () => {
  it('keeps the default bindings, without a vhost, when neither form is given', () => {
    const tap = load('tap:\n  prefetch: 10\n').tap;
    expect(tap.bindings).toEqual(DEFAULT_BINDINGS);
    expect(tap.bindings.every((b) => b.vhost === undefined)).toBe(true);
    expect(tap.vhostPerService).toBeUndefined();
  });

  it('takes a vhost per binding, as RabbitMQ names it', () => {
    const tap = load(`tap:
  bindings:
    - {exchange: nova, vhost: /nova, routingKeys: [notifications.error]}
    - {exchange: neutron, routingKeys: [notifications.error]}
`).tap;
    expect(tap.bindings).toEqual([
      { exchange: 'nova', vhost: '/nova', routingKeys: ['notifications.error'] },
      { exchange: 'neutron', routingKeys: ['notifications.error'] },
    ]);
  });

  it('maps `vhostPerService: true` to each standard service in /<service>, cinder on its `openstack` exchange', () => {
    const tap = load('tap:\n  vhostPerService: true\n').tap;
    expect(tap.bindings.map((b) => [b.vhost, b.exchange])).toEqual([
      ['/nova', 'nova'],
      ['/neutron', 'neutron'],
      ['/cinder', 'openstack'],
      ['/glance', 'glance'],
      ['/keystone', 'keystone'],
      ['/heat', 'heat'],
    ]);
    expect(tap.bindings.every((b) => JSON.stringify(b.routingKeys) === JSON.stringify(KEYS))).toBe(true);
    expect(KEYS).toHaveLength(8);
    expect(KEYS).toContain('versioned_notifications.error');
    expect(load('tap:\n  vhostPerService: false\n').tap.bindings).toEqual(DEFAULT_BINDINGS);
  });

  it('takes the services and a vhost pattern with {service}', () => {
    const tap = tapSchema.parse({ vhostPerService: { services: ['octavia', 'nova'], vhost: 'openstack-{service}' } });
    expect(tap.bindings.map((b) => [b.vhost, b.exchange])).toEqual([
      ['openstack-octavia', 'octavia'],
      ['openstack-nova', 'nova'],
    ]);
  });

  it('refuses bad forms with the key path', () => {
    expect(problems('tap:\n  vhostPerService: yes please\n')).toEqual([
      'tap.vhostPerService: true, or {services: [nova, …], vhost: "/{service}"}',
    ]);
    expect(problems('tap:\n  vhostPerService: {services: [nova, nvoa]}\n')).toEqual([
      'tap.vhostPerService.services[1]: not a service warren knows (one of nova, neutron, cinder, glance, keystone, heat, octavia, ironic, magnum)',
    ]);
    expect(problems('tap:\n  vhostPerService: {vhost: /openstack}\n')).toEqual([
      'tap.vhostPerService.vhost: must contain {service}, e.g. /{service}',
    ]);
    expect(problems('tap:\n  vhostPerService: {vhosts: "/{service}"}\n')).toEqual([
      'tap.vhostPerService.vhosts: unknown key',
    ]);
    expect(
      problems('tap:\n  vhostPerService: true\n  bindings: [{exchange: nova, routingKeys: [notifications.error]}]\n'),
    ).toEqual([
      'tap.vhostPerService: set tap.bindings or tap.vhostPerService, not both (vhostPerService writes the bindings)',
    ]);
    expect(problems('tap:\n  bindings: [{exchange: nova, vhost: "", routingKeys: [notifications.error]}]\n')).toEqual([
      expect.stringMatching(/^tap\.bindings\[0\]\.vhost: /),
    ]);
  });
});
