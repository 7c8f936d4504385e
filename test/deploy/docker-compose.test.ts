/**
 * docker-compose.yml cannot run here (no Docker engine), so it is kept valid by parsing: always with the YAML
 * parser and our own expectations (its cross-references included), and with `docker-compose config` itself, which
 * the test installs as root on Debian (compose-cli.ts) and skips, saying why, where it cannot.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type ComposeCli, composeCli } from './compose-cli.js';

const root = resolve(import.meta.dirname, '..', '..');
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      environment?: Record<string, string>;
      volumes?: string[];
      profiles?: string[];
      entrypoint?: string[];
      depends_on?: Record<string, unknown>;
    }
  >;
  volumes?: Record<string, unknown>;
};
/** apt-get update and install on a fresh machine: a download, not a slow test. */
const INSTALL_TIMEOUT = 300_000;

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
  });

  it('refers only to services, volumes and files that exist', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(Object.keys(compose.services), `${name} depends on ${dependency}`).toContain(dependency);
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] as string;
        if (source.startsWith('.')) expect(existsSync(resolve(root, source)), `${name} mounts ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes ?? {}), `${name} mounts volume ${source}`).toContain(source);
      }
    }
  });

  it('runs RabbitMQ 4.x with the management and Prometheus plugins on every node', () => {
    for (const name of ['rabbit1', 'rabbit2', 'rabbit3']) {
      const service = compose.services[name];
      expect(service?.image).toMatch(/^rabbitmq:4\.\d+-management$/);
      expect(service?.volumes).toContain('./deploy/compose/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro');
    }
    const plugins = readFileSync(resolve(root, 'deploy/compose/enabled_plugins'), 'utf8');
    // An Erlang list of atoms ending in a full stop, as rabbitmq-plugins writes it.
    expect(plugins.trim()).toMatch(/^\[[a-z_]+(,[a-z_]+)*\]\.$/);
    expect(plugins).toContain('rabbitmq_management');
    expect(plugins).toContain('rabbitmq_prometheus');
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
    expect(config.clusters[0]?.prometheus).toEqual([
      'http://rabbit1:15692',
      'http://rabbit2:15692',
      'http://rabbit3:15692',
    ]);
    expect(config.slack.mode).toBe('console');
  });
});

describe('docker-compose config', () => {
  let cli: ComposeCli;
  beforeAll(async () => {
    cli = await composeCli();
  }, INSTALL_TIMEOUT);

  it('accepts docker-compose.yml', ({ skip }) => {
    if ('missing' in cli) return skip(cli.missing);
    const [cmd, ...args] = cli.argv as [string, ...string[]];
    const out = execFileSync(cmd, [...args, '-f', resolve(root, 'docker-compose.yml'), 'config', '-q'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  }, 30_000);
});
