/**
 * The shape of warren's configuration: the YAML file (after `${VAR}` substitution) merged with the environment.
 * This is the single place that says which keys exist, their types and defaults; docs/configuration.md is
 * checked against it. Unknown keys are rejected everywhere, because a typo silently ignored is a check that
 * silently never runs.
 */
import { z } from 'zod';
import { duration } from './duration.js';
import { healthSchema } from './health-schema.js';
import { remediationSchema } from './remediation-schema.js';
import { slackId } from './slack-id.js';
import { bindingSchema, tapSchema } from './tap-schema.js';

const amqpUrl = z.url({ protocol: /^amqps?$/, error: 'not an AMQP URL (amqp://host:port or amqps://…)' });
const httpUrl = z.url({ protocol: /^https?$/, error: 'not a URL (http://host:port or https://…)' });

/** A node control argv template naming the node (run without a shell, like `nodeControl.command`). */
const nodeTemplate = z
  .array(z.string().min(1))
  .min(1)
  .refine(
    (argv) => argv.some((part) => /\{(node|host|shortHost)\}/.test(part)),
    'the command must contain {node}, {host} or {shortHost}',
  );

/** Another of RabbitMQ's CLIs run like `command` (the action, then its arguments, where `{action}` stands). */
const toolTemplate = z
  .array(z.string().min(1))
  .min(1)
  .refine((argv) => argv.some((part) => part.includes('{action}')), 'the command must contain {action}')
  .optional();

export const clusterSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'letters, digits, "-", "_" and "." only (used in commands)'),
    amqp: z.array(amqpUrl).min(1, 'at least one AMQP URL (one per node)'),
    management: z.array(httpUrl).min(1, 'at least one management URL (one per node)'),
    /**
     * Each node's Prometheus plugin endpoint (`http://host:15692`, RabbitMQ 3.10 or later). When set, sweeps read
     * queue depths and consumer counts from its `/metrics/detailed` instead of making the broker ask every queue
     * process, several times cheaper on a large cluster; any node missing from its answers: the management API.
     */
    prometheus: z
      .array(httpUrl.refine((url) => !/^[a-z]+:\/\/[^/]*@/i.test(url), 'the Prometheus endpoint takes no credentials'))
      .min(1)
      .optional(),
    managementUser: z.string().min(1).optional(),
    managementPassword: z.string().min(1).optional(),
    /**
     * Ask the management API and the Prometheus endpoints for gzip-compressed answers. Off by default: near the
     * cluster, compressing a whole-cluster listing (megabytes at tens of thousands of queues) costs the broker and
     * warren more CPU than the bytes it saves take to send. On for a slow or metered link.
     */
    httpCompression: z.boolean().default(false),
    /**
     * The RabbitMQ user that remediation changes the broker with (management API writes). Kept apart from
     * managementUser, which needs only the `monitoring` tag: a compromised read path cannot change the broker, and
     * without these warren starts no remediation run on the cluster.
     */
    remediationUser: z.string().min(1).optional(),
    remediationPassword: z.string().min(1).optional(),
    vhost: z.string().min(1).default('/'),
    /** This cluster's tap bindings, instead of `tap.bindings` (clusters often run different OpenStack services). */
    tapBindings: z.array(bindingSchema).optional(),
    /**
     * How warren runs CLI-only actions on a node (heal-partition restarts the rabbit application,
     * raise-memory-watermark reads and sets the watermark): an argv template run without a shell, with `{node}`,
     * `{host}`, `{shortHost}` (the host's first label) and `{action}` (the action, then its arguments) filled in.
     * Unset: no node control.
     */
    nodeControl: z
      .strictObject({
        command: nodeTemplate.refine(
          (argv) => argv.some((part) => part.includes('{action}')),
          'the command must contain {action}',
        ),
        /**
         * The same kind of template for `rabbitmq-streams` (repair-stream-replicas); unset: `command` with its
         * `rabbitmqctl` replaced by `rabbitmq-streams`.
         */
        streamsCommand: toolTemplate,
        /**
         * The same for `rabbitmq-diagnostics` (whether a node is still booting); unset: `command` with its
         * `rabbitmqctl` replaced by `rabbitmq-diagnostics`.
         */
        diagnosticsCommand: toolTemplate,
        /**
         * The same for `rabbitmq-queues` (shrink-forgotten-members before RabbitMQ 4.0, which has no HTTP endpoint
         * for membership changes); unset: `command` with its `rabbitmqctl` replaced by `rabbitmq-queues`.
         */
        queuesCommand: toolTemplate,
        /**
         * How to start and to end a node's Erlang VM (the service, not the rabbit application), for a node whose VM is
         * down or hung in its boot: argv templates with `{node}`, `{host}`, `{shortHost}`, e.g. `[ssh, "{host}", sudo,
         * systemctl, start, rabbitmq-server]`. `stop` must end a VM that no longer answers (e.g. `systemctl kill
         * --signal=SIGKILL rabbitmq-server`). Unset: warren starts and stops the rabbit application only.
         */
        service: z.strictObject({ start: nodeTemplate, stop: nodeTemplate }).optional(),
        env: z.record(z.string(), z.string()).default({}),
        timeout: duration({ min: '1s' }).prefault('2m'),
      })
      .optional(),
  })
  .refine((c) => (c.remediationUser === undefined) === (c.remediationPassword === undefined), {
    message: 'set remediationUser and remediationPassword together (or neither: no remediation on this cluster)',
    path: ['remediationPassword'],
  });

export const slackSchema = z.strictObject({
  command: z
    .string()
    .regex(/^\/[a-z0-9_-]+$/, 'a slash command such as /rabbit')
    .default('/rabbit'),
  alertChannel: slackId.optional(),
  /** Minimum time between two messages or edits warren sends to one channel; Slack allows about one per second. */
  channelInterval: duration({ min: '0ms' }).prefault('1s'),
  /**
   * How long one Web API request may take before warren gives up on it and retries later. Without a bound a Slack
   * that accepts connections but never answers would hold a sweep (and its lock) forever.
   */
  apiTimeout: duration({ min: '100ms' }).prefault('10s'),
});

/**
 * A vhost as RabbitMQ names it (`/neutron`, with its slash), or a glob of them (`*`, `?`, as the tap's and `queues`'
 * patterns): what a scoped channel may see and act on.
 */
const vhostPattern = z.string().min(1, 'a vhost name or glob (e.g. /neutron, /nova*)');

/** Channels limited to some vhosts: every command and workflow there keeps to them (docs/security.md). */
const vhostScopeSchema = z.strictObject({
  channels: z.array(slackId).min(1, 'at least one channel id'),
  vhosts: z.array(vhostPattern).min(1, 'at least one vhost (a scope of none would refuse everything)'),
});

export const accessSchema = z
  .strictObject({
    /** Who may run read-only commands; empty: everyone (in the allowed channels). Operators and approvers may too. */
    readers: z.array(slackId).default([]),
    operators: z.array(slackId).default([]),
    approvers: z.array(slackId).default([]),
    channels: z.array(slackId).default([]),
    vhostScopes: z.array(vhostScopeSchema).default([]),
  })
  .superRefine((access, ctx) => {
    const seen = new Map<string, number>();
    for (const [i, scope] of access.vhostScopes.entries()) {
      for (const [j, channel] of scope.channels.entries()) {
        const path = ['vhostScopes', i, 'channels', j];
        const earlier = seen.get(channel);
        // Two scopes for one channel would leave which one holds to the order of the file: say so instead.
        if (earlier !== undefined) {
          ctx.addIssue({ code: 'custom', path, message: `${channel} is already scoped by vhostScopes[${earlier}]` });
        } else if (access.channels.length > 0 && !access.channels.includes(channel)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `${channel} is not in access.channels: warren takes no commands there`,
          });
        }
        seen.set(channel, earlier ?? i);
      }
    }
  });

export const fileSchema = z.strictObject({
  clusters: z.array(clusterSchema).default([]),
  slack: slackSchema.prefault({}),
  access: accessSchema.prefault({}),
  tap: tapSchema.prefault({}),
  health: healthSchema.prefault({}),
  remediation: remediationSchema.prefault({}),
});

/** A comma-separated list in one variable, each item validated; `what` names an item for the empty case. */
const commaList = (item: z.ZodURL | z.ZodString, what: string) =>
  z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, `at least one ${what}`));

/** Environment variables warren reads; validated like the file so `env.PORT: …` errors look the same. */
export const envSchema = z.object({
  WARREN_CONFIG: z.string().min(1).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'not a Redis URL (redis://host:port)' }).optional(),
  REDIS_SENTINELS: commaList(
    z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'not host:port'),
    'sentinel host:port',
  ).optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(
      /^[A-Za-z0-9._:-]{0,63}:$/,
      'letters, digits, ".", "_", "-" and ":", ending in ":" (at most 64), e.g. warren-staging:',
    )
    .optional(),
  PORT: z
    .string()
    .regex(/^\d{1,5}$/, 'not a port number (0–65535)')
    .transform(Number)
    .pipe(z.number().max(65535, 'not a port number (0–65535)'))
    .optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  SLACK_BOT_TOKEN: z
    .string()
    .regex(/^xox[bp]-/, 'not a Slack bot token (xoxb-…)')
    .optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'not a Slack app-level token (xapp-…)')
    .optional(),
  SLACK_API_URL: httpUrl.optional(),
  RABBITMQ_URL: commaList(amqpUrl, 'AMQP URL').optional(),
  RABBITMQ_MANAGEMENT_URL: commaList(httpUrl, 'management URL').optional(),
  RABBITMQ_PROMETHEUS_URL: commaList(httpUrl, 'Prometheus URL').optional(),
  RABBITMQ_REMEDIATION_USER: z.string().min(1).optional(),
  RABBITMQ_REMEDIATION_PASSWORD: z.string().min(1).optional(),
});

export type FileConfig = z.infer<typeof fileSchema>;
export type EnvConfig = z.infer<typeof envSchema>;

export interface ClusterConfig {
  name: string;
  amqp: string[];
  /** Base URLs with any userinfo stripped: credentials live only in managementUser/managementPassword. */
  management: string[];
  managementUser: string;
  managementPassword: string;
  /** Prometheus plugin endpoints, one per node; unset: depths from the management API. */
  prometheus?: string[];
  /** Ask for gzip-compressed HTTP answers; unset: uncompressed. */
  httpCompression?: boolean;
  /** Credentials for management API writes; unset: no remediation on this cluster. */
  remediation?: { user: string; password: string };
  vhost: string;
  tapBindings?: z.infer<typeof bindingSchema>[];
  nodeControl?: NonNullable<z.infer<typeof clusterSchema>['nodeControl']>;
}

export type SlackMode = 'http' | 'socket' | 'console';

export interface WarrenConfig {
  /** Empty when warren should start and watch the embedded local stack. */
  clusters: ClusterConfig[];
  slack: {
    mode: SlackMode;
    command: string;
    alertChannel?: string;
    channelIntervalMs: number;
    apiTimeoutMs: number;
    botToken?: string;
    signingSecret?: string;
    appToken?: string;
    apiUrl?: string;
  };
  access: z.infer<typeof accessSchema>;
  tap: z.infer<typeof tapSchema>;
  health: z.infer<typeof healthSchema>;
  remediation: z.infer<typeof remediationSchema>;
  redisUrl: string;
  /** Set with REDIS_SENTINELS: the sentinels to ask for the master named `name` (see src/redis/redis-connection.ts). */
  redisSentinel?: { sentinels: Array<{ host: string; port: number }>; name: string };
  /** False when REDIS_URL was not given, so the embedded stack may provide Redis. */
  redisExplicit: boolean;
  /**
   * What every key warren writes starts with (REDIS_KEY_PREFIX, default `warren:`): two warren deployments, or test
   * files, share one Redis under different prefixes.
   */
  redisKeyPrefix: string;
  port: number;
  logLevel: string;
  /** Where the file came from, for `check-config` and logs; undefined when no file was used. */
  file?: string;
}
