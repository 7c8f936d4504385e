/** warren.example.yaml is what operators copy first: it must load as it stands, with its secrets from the env. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

describe('warren.example.yaml', () => {
  it('loads without problems and means what its comments say', () => {
    const config = loadConfig({
      env: {
        WARREN_CONFIG: resolve(import.meta.dirname, '..', '..', 'warren.example.yaml'),
        RABBIT_PASSWORD: 'example-amqp-secret',
        RABBIT_MONITOR_PASSWORD: 'example-monitor-secret',
        RABBIT_REMEDIATE_PASSWORD: 'example-remediate-secret',
      },
    });
    expect(config.clusters.map((c) => c.name)).toEqual(['prod']);
    expect(config.clusters[0]).toMatchObject({
      managementUser: 'warren-monitor',
      remediation: { user: 'warren-remediate', password: 'example-remediate-secret' },
    });
    expect(config.health).toMatchObject({
      interval: 30_000,
      repeatInterval: 4 * 3_600_000,
      defaultFor: 2,
      for: { 'network-partition': 1 },
      thresholds: { backlogMessages: 500, channelsPerConnection: 100, resourceUsage: 0.8 },
    });
  });
});
