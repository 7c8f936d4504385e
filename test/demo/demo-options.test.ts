/**
 * `npm run demo`'s options: the broker and the oslo layout are chosen and checked before anything starts, a wrong
 * value is a usage error naming what is allowed, and a fault that cannot happen on the chosen broker is refused.
 */
import { describe, expect, it } from 'vitest';
import { DemoUsageError, parseDemoOptions } from '../../src/demo/demo-options.js';
import { serviceVhosts } from '../../src/demo/service-vhosts.js';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseDemoOptions(args, env);

describe('parseDemoOptions', () => {
  it('defaults to 3.10 with the classic layout, and to kolla on 4.0', () => {
    expect(parse([])).toMatchObject({ rabbitmq: '3.10', layout: 'classic', faults: [], rate: 20, interval: '5s' });
    expect(parse(['--rabbitmq', '4.0'])).toMatchObject({ rabbitmq: '4.0', layout: 'kolla' });
    expect(parse(['--rabbitmq', '3.10'])).toMatchObject({ rabbitmq: '3.10', layout: 'classic' });
  });

  it('takes the broker from WARREN_TEST_RABBITMQ unless --rabbitmq says otherwise', () => {
    expect(parse([], { WARREN_TEST_RABBITMQ: '4.0' })).toMatchObject({ rabbitmq: '4.0', layout: 'kolla' });
    expect(parse(['--rabbitmq', '3.10'], { WARREN_TEST_RABBITMQ: '4.0' })).toMatchObject({ rabbitmq: '3.10' });
    expect(() => parse([], { WARREN_TEST_RABBITMQ: '3.13' })).toThrow(/WARREN_TEST_RABBITMQ must be 3\.10 or 4\.0/);
  });

  it('lets --layout override the default on either broker', () => {
    expect(parse(['--rabbitmq', '4.0', '--layout', 'classic'])).toMatchObject({ rabbitmq: '4.0', layout: 'classic' });
    expect(parse(['--layout', 'kolla'])).toMatchObject({ rabbitmq: '3.10', layout: 'kolla' });
  });

  it('keeps every service in / by default, and takes --vhosts per-service', () => {
    expect(parse([])).toMatchObject({ vhosts: 'shared' });
    expect(parse(['--vhosts', 'per-service'])).toMatchObject({ vhosts: 'per-service' });
    expect(() => parse(['--vhosts', 'many'])).toThrow(/--vhosts takes shared or per-service, not "many"/);
  });

  it('maps the demo services to the vhosts tap.vhostPerService listens in', () => {
    expect(serviceVhosts()).toEqual({ nova: '/nova', neutron: '/neutron', openstack: '/cinder' });
  });

  it('refuses unknown values, options and arguments with a usage error', () => {
    expect(() => parse(['--rabbitmq', '3.13'])).toThrow(new DemoUsageError('--rabbitmq takes 3.10 or 4.0, not "3.13"'));
    expect(() => parse(['--layout', 'quorum'])).toThrow(/--layout takes classic or kolla, not "quorum"/);
    expect(() => parse(['--rabbitmq'])).toThrow(DemoUsageError);
    expect(() => parse(['--broker', '4.0'])).toThrow(DemoUsageError);
    expect(() => parse(['4.0'])).toThrow(DemoUsageError);
    expect(() => parse(['--rate', 'many'])).toThrow(/--rate takes a number/);
    expect(() => parse(['--script', 'zombie,nope'])).toThrow(/--script takes smoke or loops/);
    expect(() => parse(['--fault', 'nope'])).toThrow(/unknown fault "nope"/);
  });

  it('refuses the unsynchronised mirror on 4.0, where mirroring does not exist, and takes it on 3.10', () => {
    expect(() => parse(['--rabbitmq', '4.0', '--fault', 'unsynced-mirror'])).toThrow(
      /--fault unsynced-mirror: not available on RabbitMQ 4\.0: classic queue mirroring was removed/,
    );
    expect(parse(['--fault', 'unsynced-mirror', '--fault', 'zombie'])).toMatchObject({
      faults: ['unsynced-mirror', 'zombie'],
    });
    expect(parse(['--rabbitmq', '4.0', '--fault', 'partition', '--script', 'smoke'])).toMatchObject({
      faults: ['partition'],
      script: [{ fault: 'zombie' }],
    });
  });

  it('returns undefined for --help', () => {
    expect(parse(['--help'])).toBeUndefined();
  });
});
