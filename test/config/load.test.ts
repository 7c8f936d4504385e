import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-config-'));
let n = 0;
function file(yaml: string): string {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, yaml);
  return path;
}

function problems(yaml: string | undefined, env: Record<string, string> = {}): string[] {
  try {
    loadConfig({ env, file: yaml === undefined ? undefined : file(yaml), cwd: dir });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

const cluster = `clusters:
  - name: prod
    amqp: [amqp://u:p@10.0.0.1:5672]
    management: [http://10.0.0.1:15672]
`;

describe('loadConfig', () => {
  it('takes Redis Sentinels with the master name, both or neither', () => {
    const config = loadConfig({
      env: { REDIS_SENTINELS: 'sentinel-1:26379, 10.0.0.9:26380', REDIS_SENTINEL_NAME: 'warren' },
      cwd: dir,
    });
    expect(config.redisSentinel).toEqual({
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '10.0.0.9', port: 26380 },
      ],
      name: 'warren',
    });
    expect(config.redisExplicit).toBe(true);
    expect(problems(undefined, { REDIS_SENTINELS: 'sentinel-1:26379' })).toEqual([
      'env.REDIS_SENTINEL_NAME: set REDIS_SENTINELS and REDIS_SENTINEL_NAME together (the sentinels, and the master name they watch)',
    ]);
    expect(problems(undefined, { REDIS_SENTINELS: 'sentinel-1', REDIS_SENTINEL_NAME: 'w' })).toEqual([
      'env.REDIS_SENTINELS[0]: not host:port',
    ]);
    expect(problems(undefined, { REDIS_SENTINELS: ' , ', REDIS_SENTINEL_NAME: 'w' })).toEqual([
      'env.REDIS_SENTINELS: at least one sentinel host:port',
    ]);
    expect(problems(undefined, { RABBITMQ_URL: ',' })).toEqual(['env.RABBITMQ_URL: at least one AMQP URL']);
  });

  it('takes a Redis key prefix ending in a colon, and warren: by default', () => {
    expect(loadConfig({ env: {}, cwd: dir }).redisKeyPrefix).toBe('warren:');
    expect(loadConfig({ env: { REDIS_KEY_PREFIX: 'warren-staging:' }, cwd: dir }).redisKeyPrefix).toBe(
      'warren-staging:',
    );
    for (const bad of ['warren', 'a b:', '{warren}:', `${'x'.repeat(64)}:`]) {
      expect(problems(undefined, { REDIS_KEY_PREFIX: bad })).toEqual([
        expect.stringMatching(/^env\.REDIS_KEY_PREFIX: letters, digits/),
      ]);
    }
  });

  it('never quotes a value taken from the environment in a problem, wherever it was put', () => {
    const yaml = `${cluster}access:\n  operators: \${OPS_TOKEN}\n`;
    expect(problems(yaml, { OPS_TOKEN: 'hunter2-secret' })).toEqual([
      'access.operators: expected array, got string "***"',
    ]);
    expect(problems(`${cluster}health:\n  interval: \${PORT_LIKE}\n`, { PORT_LIKE: '5' })).toEqual([
      expect.stringMatching(/^health\.interval: /),
    ]);
  });

  it('takes remediation credentials apart from the read-only user, both or neither', () => {
    const withRemediation = `${cluster}    remediationUser: warren-remediate
    remediationPassword: \${REMEDIATE_PASS}
`;
    const config = loadConfig({ env: { REMEDIATE_PASS: 'r3m' }, file: file(withRemediation), cwd: dir });
    expect(config.clusters[0]).toMatchObject({
      managementUser: 'u',
      remediation: { user: 'warren-remediate', password: 'r3m' },
    });
    expect(loadConfig({ env: {}, file: file(cluster), cwd: dir }).clusters[0]?.remediation).toBeUndefined();
    expect(problems(`${cluster}    remediationUser: warren-remediate\n`)).toEqual([
      'clusters[0].remediationPassword: set remediationUser and remediationPassword together (or neither: no remediation on this cluster)',
    ]);
    const env = { RABBITMQ_URL: 'amqp://u:p@10.0.0.1:5672' };
    expect(
      loadConfig({ env: { ...env, RABBITMQ_REMEDIATION_USER: 'ru', RABBITMQ_REMEDIATION_PASSWORD: 'rp' }, cwd: dir })
        .clusters[0]?.remediation,
    ).toEqual({ user: 'ru', password: 'rp' });
    expect(problems(undefined, { ...env, RABBITMQ_REMEDIATION_USER: 'ru' })).toEqual([
      'env.RABBITMQ_REMEDIATION_PASSWORD: set RABBITMQ_REMEDIATION_USER and RABBITMQ_REMEDIATION_PASSWORD together',
    ]);
  });

  it('accepts a minimal file and fills defaults', () => {
    const config = loadConfig({ env: {}, file: file(cluster), cwd: dir });
    expect(config.clusters).toEqual([
      {
        name: 'prod',
        amqp: ['amqp://u:p@10.0.0.1:5672'],
        management: ['http://10.0.0.1:15672'],
        managementUser: 'u',
        managementPassword: 'p',
        vhost: '/',
      },
    ]);
    expect(config.slack).toMatchObject({ mode: 'console', command: '/rabbit' });
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.redisExplicit).toBe(false);
    expect(config.port).toBe(3000);
  });

  it('substitutes environment variables and strips management URL credentials', () => {
    const yaml = `clusters:
  - name: prod
    amqp: [amqp://10.0.0.1]
    management: ["http://monitor:\${MGMT_PASS}@10.0.0.1:15672"]
    vhost: "$\${literal}"
`;
    const config = loadConfig({ env: { MGMT_PASS: 's3cr3t!' }, file: file(yaml), cwd: dir });
    expect(config.clusters[0]).toMatchObject({
      management: ['http://10.0.0.1:15672'],
      managementUser: 'monitor',
      managementPassword: 's3cr3t!',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${ is what the escape must produce.
      vhost: '${literal}',
    });
  });

  it('accepts per-cluster tap bindings and validates them', () => {
    const yaml = `${cluster}    tapBindings: [{exchange: nova, routingKeys: [notifications.error]}]\n`;
    expect(loadConfig({ env: {}, file: file(yaml), cwd: dir }).clusters[0]?.tapBindings).toEqual([
      { exchange: 'nova', routingKeys: ['notifications.error'] },
    ]);
    expect(problems(`${cluster}    tapBindings: [{exchange: nova, routingKeys: []}]\n`)).toEqual([
      'clusters[0].tapBindings[0].routingKeys: at least one routing key (e.g. notifications.error)',
    ]);
  });

  it('builds a cluster from RABBITMQ_URL alone, deriving management URLs', () => {
    const config = loadConfig({
      env: { RABBITMQ_URL: 'amqp://a:b@h1:5672, amqp://a:b@h2:5672' },
      cwd: dir,
    });
    expect(config.clusters[0]).toMatchObject({
      name: 'default',
      management: ['http://h1:15672', 'http://h2:15672'],
      managementUser: 'a',
      managementPassword: 'b',
    });
  });

  it('takes Prometheus endpoints for queue depths, from the file or RABBITMQ_PROMETHEUS_URL', () => {
    const fromEnv = loadConfig({
      env: {
        RABBITMQ_URL: 'amqp://h1:5672,amqp://h2:5672',
        RABBITMQ_PROMETHEUS_URL: 'http://h1:15692/,http://h2:15692',
      },
      cwd: dir,
    });
    expect(fromEnv.clusters[0]?.prometheus).toEqual(['http://h1:15692', 'http://h2:15692']);
    const fromFile = loadConfig({
      file: file(`${cluster}    prometheus: [http://10.0.0.1:15692]\n`),
      env: {},
      cwd: dir,
    });
    expect(fromFile.clusters[0]?.prometheus).toEqual(['http://10.0.0.1:15692']);
    expect(loadConfig({ file: file(cluster), env: {}, cwd: dir }).clusters[0]?.prometheus).toBeUndefined();
  });

  it('asks for uncompressed HTTP answers unless httpCompression is on, and refuses a value that is not a boolean', () => {
    expect(loadConfig({ file: file(cluster), env: {}, cwd: dir }).clusters[0]?.httpCompression).toBeUndefined();
    const on = loadConfig({ file: file(`${cluster}    httpCompression: true\n`), env: {}, cwd: dir });
    expect(on.clusters[0]?.httpCompression).toBe(true);
    expect(problems(`${cluster}    httpCompression: gzip\n`)).toEqual([
      expect.stringMatching(/^clusters\[0\]\.httpCompression: /),
    ]);
  });

  it('selects the Slack mode from the credentials present', () => {
    expect(loadConfig({ env: {}, cwd: dir }).slack.mode).toBe('console');
    expect(loadConfig({ env: { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abc' }, cwd: dir }).slack.mode).toBe(
      'http',
    );
    expect(loadConfig({ env: { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }, cwd: dir }).slack.mode).toBe(
      'socket',
    );
  });

  it('parses duration-free numeric env like PORT and rejects garbage', () => {
    expect(loadConfig({ env: { PORT: '8080' }, cwd: dir }).port).toBe(8080);
  });

  const bad: Array<[string, string | undefined, Record<string, string>, string[]]> = [
    [
      'management URL that is not a URL',
      `clusters:\n  - name: a\n    amqp: [amqp://h]\n    management: [http://h:15672, "not a url"]\n`,
      {},
      ['clusters[0].management[1]: not a URL (http://host:port or https://…)'],
    ],
    [
      'amqp URL with the wrong scheme',
      `clusters:\n  - name: a\n    amqp: [http://h]\n    management: [http://h]\n`,
      {},
      ['clusters[0].amqp[0]: not an AMQP URL (amqp://host:port or amqps://…)'],
    ],
    ['unknown top-level key', `clusterz: []\n`, {}, ['clusterz: unknown key']],
    [
      'unknown nested key (typo)',
      `clusters:\n  - name: a\n    amqp: [amqp://h]\n    managment: [http://h]\n`,
      {},
      ['clusters[0].management: required', 'clusters[0].managment: unknown key'],
    ],
    [
      'missing environment variable',
      `clusters:\n  - name: a\n    amqp: [amqp://h]\n    management: [http://h]\n    managementPassword: \${NOPE}\n`,
      {},
      [
        'clusters[0].managementPassword: environment variable NOPE is not set',
        'clusters[0].managementPassword: Too small: expected string to have >=1 characters',
      ],
    ],
    ['wrong type', `slack:\n  command: 42\n`, {}, ['slack.command: expected string, got number 42']],
    ['bad slash command', `slack:\n  command: rabbit\n`, {}, ['slack.command: a slash command such as /rabbit']],
    [
      'bad channel id',
      `access:\n  channels: ["#ops"]\n`,
      {},
      ['access.channels[0]: not a Slack id (e.g. U024BE7LH, S0614TZR7, C024BE91L)'],
    ],
    [
      'duplicate cluster names',
      `clusters:\n  - {name: a, amqp: [amqp://h], management: [http://h]}\n  - {name: a, amqp: [amqp://h], management: [http://h]}\n`,
      {},
      ['clusters[1].name: duplicate cluster name "a"'],
    ],
    [
      'empty amqp list',
      `clusters:\n  - {name: a, amqp: [], management: [http://h]}\n`,
      {},
      ['clusters[0].amqp: at least one AMQP URL (one per node)'],
    ],
    [
      'YAML syntax error',
      `clusters: [\n`,
      {},
      ['(file): YAML line 2:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ],
    ['bad PORT', undefined, { PORT: 'eighty' }, ['env.PORT: not a port number (0–65535)']],
    ['bad REDIS_URL', undefined, { REDIS_URL: 'http://x' }, ['env.REDIS_URL: not a Redis URL (redis://host:port)']],
    [
      'bad log level',
      undefined,
      { LOG_LEVEL: 'loud' },
      ['env.LOG_LEVEL: Invalid option: expected one of "trace"|"debug"|"info"|"warn"|"error"|"fatal"|"silent"'],
    ],
    [
      'bot token without signing secret',
      undefined,
      { SLACK_BOT_TOKEN: 'xoxb-1' },
      ['env.SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)'],
    ],
    [
      'app token without bot token',
      undefined,
      { SLACK_APP_TOKEN: 'xapp-1' },
      ['env.SLACK_BOT_TOKEN: required with SLACK_APP_TOKEN (Socket Mode)'],
    ],
    [
      'malformed bot token',
      undefined,
      { SLACK_BOT_TOKEN: 'nope', SLACK_SIGNING_SECRET: 's' },
      ['env.SLACK_BOT_TOKEN: not a Slack bot token (xoxb-…)'],
    ],
    [
      'RABBITMQ_URL not AMQP',
      undefined,
      { RABBITMQ_URL: 'amqp://h1,ftp://h2' },
      ['env.RABBITMQ_URL[1]: not an AMQP URL (amqp://host:port or amqps://…)'],
    ],
    [
      'management URL without RABBITMQ_URL',
      undefined,
      { RABBITMQ_MANAGEMENT_URL: 'http://h' },
      ['env.RABBITMQ_MANAGEMENT_URL: set without RABBITMQ_URL'],
    ],
    [
      'Prometheus URL without RABBITMQ_URL',
      undefined,
      { RABBITMQ_PROMETHEUS_URL: 'http://h:15692' },
      ['env.RABBITMQ_PROMETHEUS_URL: set without RABBITMQ_URL'],
    ],
    [
      'Prometheus URL with credentials',
      `${cluster}    prometheus: ['http://u:p@10.0.0.1:15692']\n`,
      {},
      ['clusters[0].prometheus[0]: the Prometheus endpoint takes no credentials'],
    ],
    [
      'both file clusters and RABBITMQ_URL',
      cluster,
      { RABBITMQ_URL: 'amqp://h' },
      ['env.RABBITMQ_URL: set together with clusters in the config file; use one'],
    ],
    [
      'unknown check id and too short an interval',
      'health:\n  interval: 100ms\n  disabled: [zombies]\n  for: {backlog: 0}\n',
      {},
      [
        'health.interval: must be at least 1s',
        'health.for.backlog: Too small: expected number to be >0',
        expect.stringMatching(/^health\.disabled\[0\]: not a check id \(one of network-partition, (.+, )?node-down, /),
      ],
    ],
    [
      'bad health thresholds and pattern',
      'health:\n  haPattern: "(unclosed"\n  thresholds: {resourceUsage: 1.5, backlogMessages: -1}\n',
      {},
      [
        'health.haPattern: not a valid regular expression',
        'health.thresholds.resourceUsage: Too big: expected number to be <=1',
        'health.thresholds.backlogMessages: Too small: expected number to be >0',
      ],
    ],
    [
      'unreadable file',
      undefined,
      { WARREN_CONFIG: '/nonexistent/warren.yaml' },
      ['(file): cannot read /nonexistent/warren.yaml: ENOENT'],
    ],
  ];

  it.each(bad)('reports %s with the key path', (_name, yaml, env, expected) => {
    expect(problems(yaml, env)).toEqual(expected);
  });

  it('never puts a secret from the environment into a problem message', () => {
    const found = problems(`clusters:\n  - name: a\n    amqp: ["amqp://u:\${PW}@h"]\n    management: [42]\n`, {
      PW: 'hunter2-very-secret',
    });
    expect(found.join('\n')).not.toContain('hunter2-very-secret');
    expect(found).toContain('clusters[0].management[0]: expected string, got number 42');
  });
});
