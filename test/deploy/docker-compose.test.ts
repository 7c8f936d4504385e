/**
 * docker-compose.yml cannot run here (no Docker engine), so it is kept valid by parsing: always with the YAML
 * parser and our own expectations, and with `docker-compose config` itself (installed by .ci/run).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

const root = resolve(import.meta.dirname, '..', '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<
    string,
    { environment?: Record<string, string>; volumes?: string[]; profiles?: string[]; entrypoint?: string[] }
  >;
};

describe('docker-compose.yml', () => {
  it('has a 3-node RabbitMQ cluster, Redis and warren, and the simulator under the demo profile', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'rabbit1',
      'rabbit2',
      'rabbit3',
      'redis',
      'simulator',
      'warren',
    ]);
    const simulator = compose.services.simulator;
    expect(simulator?.profiles).toEqual(['demo']);
    // The image holds the build of src/: the entrypoint must be one of its files.
    const script = simulator?.entrypoint?.[1] ?? '';
    expect(existsSync(resolve(root, script.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    const mount = compose.services.rabbit1?.volumes?.[0] ?? '';
    expect(existsSync(resolve(root, mount.split(':')[0] as string))).toBe(true);
  });

  it("gives warren an environment that warren's own config loader accepts", () => {
    const env = Object.fromEntries(
      Object.entries(compose.services.warren?.environment ?? {}).map(([k, v]) => [k, v.replace(/^\$\{.*:-\}$/, '')]),
    );
    const config = loadConfig({ env });
    expect(config.clusters[0]?.management).toEqual([
      'http://rabbit1:15672',
      'http://rabbit2:15672',
      'http://rabbit3:15672',
    ]);
    expect(config.slack.mode).toBe('console');
  });

  it('is accepted by docker-compose config', () => {
    const out = execFileSync('docker-compose', ['-f', resolve(root, 'docker-compose.yml'), 'config', '-q'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  }, 30_000);
});
