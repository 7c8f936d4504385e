/**
 * Loads warren's configuration once, at start-up: environment + optional YAML file → a typed `WarrenConfig`,
 * or a `ConfigError` listing every problem. Nothing downstream re-validates; it receives typed values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { scrub } from '../secrets.js';
import { problemsFromZod } from './issues.js';
import {
  type ClusterConfig,
  envSchema,
  type FileConfig,
  fileSchema,
  type SlackMode,
  type WarrenConfig,
} from './schema.js';
import { substituteEnv } from './substitute-env.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_KEY_PREFIX = 'warren:';
export const DEFAULT_PORT = 3000;
export const DEFAULT_CONFIG_FILE = 'warren.yaml';

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** An explicit file (from `warren check-config FILE`); otherwise WARREN_CONFIG, then ./warren.yaml if present. */
  file?: string;
  cwd?: string;
}

function readYaml(file: string, problems: ConfigProblem[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push({
      path: '(file)',
      message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    });
    return undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const line = lineCounter.linePos(err.pos[0]);
      problems.push({ path: '(file)', message: `YAML line ${line.line}:${line.col}: ${err.message}` });
    }
    return undefined;
  }
  return doc.toJS() ?? {};
}

/** Splits `http://user:pass@host` into a credential-free URL and its credentials. */
function splitCredentials(url: string): { url: string; user?: string; password?: string } {
  const parsed = new URL(url);
  const user = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString().replace(/\/$/, ''), user, password };
}

function resolveCluster(cluster: FileConfig['clusters'][number]): ClusterConfig {
  const management = cluster.management.map(splitCredentials);
  const fromManagement = management.find((m) => m.user);
  const fromAmqp = cluster.amqp.map(splitCredentials).find((a) => a.user);
  return {
    name: cluster.name,
    amqp: cluster.amqp,
    management: management.map((m) => m.url),
    ...(cluster.prometheus ? { prometheus: cluster.prometheus.map((url) => url.replace(/\/$/, '')) } : {}),
    managementUser: cluster.managementUser ?? fromManagement?.user ?? fromAmqp?.user ?? 'guest',
    managementPassword: cluster.managementPassword ?? fromManagement?.password ?? fromAmqp?.password ?? 'guest',
    ...(cluster.httpCompression ? { httpCompression: true } : {}),
    ...(cluster.remediationUser && cluster.remediationPassword
      ? { remediation: { user: cluster.remediationUser, password: cluster.remediationPassword } }
      : {}),
    vhost: cluster.vhost,
    ...(cluster.tapBindings ? { tapBindings: cluster.tapBindings } : {}),
    ...(cluster.nodeControl ? { nodeControl: cluster.nodeControl } : {}),
  };
}

/** When only AMQP URLs are given, the management API is assumed on the same hosts at RabbitMQ's default port. */
function managementFromAmqp(amqp: string[]): string[] {
  return amqp.map((url) => {
    const parsed = new URL(url);
    const scheme = parsed.protocol === 'amqps:' ? 'https' : 'http';
    return `${scheme}://${parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname}:15672`;
  });
}

function slackMode(env: Record<string, string | undefined>, problems: ConfigProblem[]): SlackMode {
  const bot = Boolean(env.SLACK_BOT_TOKEN);
  if (env.SLACK_APP_TOKEN) {
    if (!bot) problems.push({ path: 'env.SLACK_BOT_TOKEN', message: 'required with SLACK_APP_TOKEN (Socket Mode)' });
    return 'socket';
  }
  if (bot && !env.SLACK_SIGNING_SECRET) {
    problems.push({
      path: 'env.SLACK_SIGNING_SECRET',
      message: 'required with SLACK_BOT_TOKEN in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)',
    });
  }
  if (!bot && env.SLACK_SIGNING_SECRET) {
    problems.push({ path: 'env.SLACK_BOT_TOKEN', message: 'required with SLACK_SIGNING_SECRET' });
  }
  return bot ? 'http' : 'console';
}

/** A problem whose message quotes a value: never one from the environment, nor credentials or a Slack token. */
function masked(problem: ConfigProblem, fromEnv: ReadonlySet<string>): ConfigProblem {
  let message = scrub(problem.message);
  for (const value of fromEnv) message = message.split(value).join('***');
  return { ...problem, message };
}

export function loadConfig(options: LoadOptions = {}): WarrenConfig {
  // An empty variable counts as unset: compose files and service managers pass `VAR=` for "not configured".
  const rawEnv = Object.fromEntries(
    Object.entries(options.env ?? process.env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const cwd = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];

  const envResult = envSchema.safeParse(rawEnv, { reportInput: true });
  if (!envResult.success) problems.push(...problemsFromZod(envResult.error, 'env'));
  const env = envResult.success ? envResult.data : {};

  let file: string | undefined;
  if (options.file) file = resolve(cwd, options.file);
  else if (rawEnv.WARREN_CONFIG) file = resolve(cwd, rawEnv.WARREN_CONFIG);
  else if (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE))) file = resolve(cwd, DEFAULT_CONFIG_FILE);

  let fileConfig: FileConfig | undefined;
  const fromEnv = new Set<string>();
  if (file) {
    const raw = readYaml(file, problems);
    if (raw !== undefined) {
      const substituted = substituteEnv(raw, rawEnv, problems, [], fromEnv);
      const parsed = fileSchema.safeParse(substituted, { reportInput: true });
      if (parsed.success) fileConfig = parsed.data;
      else problems.push(...problemsFromZod(parsed.error));
    }
  } else {
    fileConfig = fileSchema.parse({});
  }

  const mode = slackMode(rawEnv, problems);
  const clusters = (fileConfig?.clusters ?? []).map(resolveCluster);
  const names = new Set<string>();
  clusters.forEach((c, i) => {
    if (names.has(c.name))
      problems.push({ path: `clusters[${i}].name`, message: `duplicate cluster name "${c.name}"` });
    names.add(c.name);
  });
  if (env.RABBITMQ_URL) {
    if (clusters.length > 0) {
      problems.push({ path: 'env.RABBITMQ_URL', message: 'set together with clusters in the config file; use one' });
    } else {
      clusters.push(
        resolveCluster({
          name: 'default',
          amqp: env.RABBITMQ_URL,
          management: env.RABBITMQ_MANAGEMENT_URL ?? managementFromAmqp(env.RABBITMQ_URL),
          prometheus: env.RABBITMQ_PROMETHEUS_URL,
          remediationUser: env.RABBITMQ_REMEDIATION_USER,
          remediationPassword: env.RABBITMQ_REMEDIATION_PASSWORD,
          httpCompression: false,
          vhost: '/',
        }),
      );
    }
  } else {
    for (const name of ['RABBITMQ_MANAGEMENT_URL', 'RABBITMQ_PROMETHEUS_URL'] as const) {
      if (env[name]) problems.push({ path: `env.${name}`, message: 'set without RABBITMQ_URL' });
    }
  }
  if ((env.REDIS_SENTINELS === undefined) !== (env.REDIS_SENTINEL_NAME === undefined)) {
    problems.push({
      path: env.REDIS_SENTINELS ? 'env.REDIS_SENTINEL_NAME' : 'env.REDIS_SENTINELS',
      message: 'set REDIS_SENTINELS and REDIS_SENTINEL_NAME together (the sentinels, and the master name they watch)',
    });
  }
  if ((env.RABBITMQ_REMEDIATION_USER === undefined) !== (env.RABBITMQ_REMEDIATION_PASSWORD === undefined)) {
    problems.push({
      path: 'env.RABBITMQ_REMEDIATION_PASSWORD',
      message: 'set RABBITMQ_REMEDIATION_USER and RABBITMQ_REMEDIATION_PASSWORD together',
    });
  } else if (env.RABBITMQ_REMEDIATION_USER && !env.RABBITMQ_URL) {
    problems.push({
      path: 'env.RABBITMQ_REMEDIATION_USER',
      message: 'set without RABBITMQ_URL (in a config file, use clusters[].remediationUser)',
    });
  }

  if (problems.length > 0 || !fileConfig) throw new ConfigError(problems.map((p) => masked(p, fromEnv)));

  return {
    clusters,
    slack: {
      mode,
      command: fileConfig.slack.command,
      alertChannel: fileConfig.slack.alertChannel,
      channelIntervalMs: fileConfig.slack.channelInterval,
      apiTimeoutMs: fileConfig.slack.apiTimeout,
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: env.SLACK_API_URL,
    },
    access: fileConfig.access,
    tap: fileConfig.tap,
    health: fileConfig.health,
    remediation: fileConfig.remediation,
    redisUrl: env.REDIS_URL ?? DEFAULT_REDIS_URL,
    ...(env.REDIS_SENTINELS && env.REDIS_SENTINEL_NAME
      ? {
          redisSentinel: {
            sentinels: env.REDIS_SENTINELS.map((entry) => {
              const at = entry.lastIndexOf(':');
              return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
            }),
            name: env.REDIS_SENTINEL_NAME,
          },
        }
      : {}),
    redisExplicit: env.REDIS_URL !== undefined || env.REDIS_SENTINELS !== undefined,
    redisKeyPrefix: env.REDIS_KEY_PREFIX ?? DEFAULT_REDIS_KEY_PREFIX,
    port: env.PORT ?? DEFAULT_PORT,
    logLevel: env.LOG_LEVEL ?? 'info',
    file,
  };
}
