/**
 * Assembles a running warren from a validated config: clusters, Redis, the command router, the front end
 * (Slack HTTP, Socket Mode or console) and the HTTP routes; and takes it all down again in reverse order.
 * With no cluster configured it starts the embedded local stack and watches that, so `npm start` on a fresh
 * machine gives a working warren.
 */

import type { Redis } from 'ioredis';
import { z } from 'zod';
import { allActions } from '../actions/index.js';
import { allCommands } from '../commands/index.js';
import { getInVhost } from '../commands/queues.js';
import { allWorkflows } from '../workflows/index.js';
import { ChannelPacer } from './chat/channel-pacer.js';
import type { ActionInvocation, ChatPort, Invocation } from './chat/chat-message.js';
import { CONSOLE_CHANNEL, type ConsoleCommand, startConsoleFrontEnd } from './chat/console-front-end.js';
import { startSlackFrontEnd } from './chat/slack-front-end.js';
import { AccessPolicy } from './chatops/access-policy.js';
import { ActionRouter } from './chatops/action-router.js';
import { CommandRouter } from './chatops/command-router.js';
import { ClusterDirectory } from './cluster/cluster-directory.js';
import { DefinitionsStore } from './cluster/definitions-store.js';
import type { ClusterConfig, WarrenConfig } from './config/schema.js';
import type { LocalStack } from './devstack/index.js';
import { createHealthMetrics } from './health/health-metrics.js';
import { HealthMonitor } from './health/health-monitor.js';
import { SweepScheduler } from './health/sweep-scheduler.js';
import { healthRoutes, type ReadinessProbe } from './http/health-routes.js';
import { startStandaloneServer } from './http/standalone-server.js';
import { LogThrottle } from './log-throttle.js';
import { createLogger, type Logger } from './logger.js';
import { rejectionReporter } from './management/listing.js';
import { createMetrics, type WarrenMetrics } from './metrics.js';
import { connectRedis, type RedisTarget } from './redis/redis-connection.js';
import { WorkflowEngine } from './remediation/workflow-engine.js';
import { registerSecret } from './secrets.js';
import { TapService } from './tap/tap-service.js';

const REDIS_READY_WAIT_MS = 10_000;

export interface WarrenOptions {
  logger?: Logger;
  /** Console front end streams; default stdin/stdout. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Called when the console's input ends, so the CLI can shut down. */
  onConsoleClose?: () => void;
  /** Console-only commands, by their first word (the demo's `/fault`). */
  consoleCommands?: Record<string, ConsoleCommand>;
}

export interface Warren {
  config: WarrenConfig;
  clusters: ClusterDirectory;
  chat: ChatPort;
  router: CommandRouter;
  metrics: WarrenMetrics;
  redis: Redis;
  /** The HTTP port serving /healthz, /readyz, /metrics (and /slack/events in HTTP mode). */
  httpPort: number;
  actions: ActionRouter;
  localStack?: LocalStack;
  tap?: TapService;
  health?: HealthMonitor;
  remediation?: WorkflowEngine;
  stop(): Promise<void>;
}

function registerSecrets(config: WarrenConfig): void {
  for (const cluster of config.clusters) {
    registerSecret(cluster.managementPassword);
    registerSecret(cluster.remediation?.password);
    for (const url of cluster.amqp) registerSecret(new URL(url).password || undefined);
  }
  registerSecret(config.slack.botToken);
  registerSecret(config.slack.signingSecret);
  registerSecret(config.slack.appToken);
  const redisPassword = new URL(config.redisUrl).password;
  registerSecret(redisPassword ? decodeURIComponent(redisPassword) : undefined);
}

async function embeddedStack(logger: Logger): Promise<{ stack: LocalStack; cluster: ClusterConfig }> {
  const { startLocalStack } = await import('./devstack/index.js');
  logger.info('no cluster configured: starting the embedded local stack (3 RabbitMQ nodes and Redis)');
  const stack = await startLocalStack({ log: (line) => logger.info({ component: 'devstack' }, line) });
  registerSecret(stack.password);
  return {
    stack,
    cluster: {
      name: 'local',
      amqp: stack.nodes.map((n) => n.amqpUrl),
      management: stack.nodes.map((n) => n.managementUrl),
      managementUser: stack.username,
      managementPassword: stack.password,
      // The local stack has one (administrator) user; a real deployment gives remediation a user of its own.
      remediation: { user: stack.username, password: stack.password },
      vhost: '/',
    },
  };
}

export async function startWarren(inputConfig: WarrenConfig, options: WarrenOptions = {}): Promise<Warren> {
  const logger = options.logger ?? createLogger(inputConfig.logLevel);
  registerSecrets(inputConfig);
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((error) => logger.warn({ err: error }, 'shutdown step failed'));
    }
  };

  try {
    let config = inputConfig;
    let localStack: LocalStack | undefined;
    if (config.clusters.length === 0) {
      const embedded = await embeddedStack(logger);
      localStack = embedded.stack;
      cleanups.push(() => embedded.stack.stop());
      config = {
        ...config,
        clusters: [embedded.cluster],
        redisUrl: config.redisExplicit ? config.redisUrl : embedded.stack.redisUrl,
      };
    }

    const metrics = createMetrics();
    const clusters = new ClusterDirectory(config.clusters, {
      managementTimeoutMs: config.health.requestTimeout,
      listingRejections: (cluster) => rejectionReporter({ cluster, counter: metrics.itemsRejected, logger }),
    });
    // Every key warren writes starts with this (REDIS_KEY_PREFIX): deployments sharing one Redis keep apart.
    const keys = config.redisKeyPrefix;
    // Auto-pipelining batches the tap's per-event scripts issued in the same tick into one round trip.
    const redisTarget: RedisTarget = {
      url: config.redisUrl,
      ...(config.redisSentinel ? { sentinel: config.redisSentinel } : {}),
    };
    const redis = connectRedis(redisTarget, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
    });
    // ioredis retries forever and emits on every attempt; one line per 30 s is enough to say Redis is down.
    const redisErrors = new LogThrottle(30_000);
    redis.on('error', (error) => {
      redisErrors.pass('redis', (held) => logger.warn({ err: error, held }, 'redis unavailable'));
    });
    // Commands and clicks that arrive before Redis is ready would fail (no offline queue, on purpose: no unbounded
    // buffering while Redis is down), so the front ends open only once it is, or after REDIS_READY_WAIT_MS at worst:
    // a Redis that is down at start is reported by /readyz and the logs rather than blocking startup for good.
    let readyTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      redis.connect().catch(() => undefined),
      new Promise((resolve) => {
        readyTimer = setTimeout(resolve, REDIS_READY_WAIT_MS);
      }),
    ]);
    clearTimeout(readyTimer);
    cleanups.push(async () => {
      redis.disconnect();
    });

    // The tap and the health monitor need the chat port, which exists only once the front end is up; commands
    // and buttons reach them through these.
    let tap: TapService | undefined;
    let health: HealthMonitor | undefined;
    let remediation: WorkflowEngine | undefined;
    const access = new AccessPolicy(config.access);
    const router = new CommandRouter({
      commands: allCommands,
      tap: () => tap,
      health: () => health,
      remediation: () => remediation,
      definitions: new DefinitionsStore(redis, `${keys}commands:definitions:`),
      clusters,
      access,
      slashCommand: config.slack.command,
      logger,
      metrics,
    });
    const actions = new ActionRouter({ access, logger, metrics });
    actions.register(
      ...allActions(
        () => health,
        () => remediation,
      ),
    );
    const onCommand = (invocation: Invocation) => router.handle(invocation);
    const onAction = (action: ActionInvocation) => actions.handle(action);

    const probes = (): ReadinessProbe[] => [
      { name: 'redis', check: async () => (await redis.ping()) === 'PONG' },
      ...clusters.all().map((c) => ({ name: `cluster:${c.config.name}`, check: () => c.management.ping() })),
    ];
    const routes = healthRoutes({ registry: metrics.registry, probes });

    let chat: ChatPort;
    let httpPort: number | undefined;
    if (config.slack.mode === 'console') {
      const front = startConsoleFrontEnd({
        slashCommand: config.slack.command,
        input: options.input ?? process.stdin,
        output: options.output ?? process.stdout,
        onCommand,
        onAction,
        onClose: options.onConsoleClose,
        extraCommands: options.consoleCommands,
      });
      cleanups.push(() => front.stop());
      chat = front.port;
    } else {
      const front = await startSlackFrontEnd({ config, logger, routes, onCommand, onAction });
      cleanups.push(() => front.stop());
      chat = front.port;
      httpPort = front.httpPort;
    }
    // One pace per channel for every sender (tap groups, alerts, runs), so that together they stay within Slack's.
    const pacer = new ChannelPacer(redis, config.slack.channelIntervalMs, `${keys}slack:pace:`);
    // In the console every alert is shown in the terminal, so an unset alert channel means the console.
    const alertChannel = config.slack.alertChannel ?? (config.slack.mode === 'console' ? CONSOLE_CHANNEL : undefined);
    if (config.tap.enabled && config.clusters.length > 0) {
      const service = new TapService({
        clusters: config.clusters,
        tap: config.tap,
        alertChannel,
        pacer,
        redis,
        keyPrefix: `${keys}tap:`,
        chat,
        metrics,
        logger,
        channelSees: (channel, vhost) => access.vhostScope(channel)?.allows(vhost) ?? true,
        // The vhost itself, asked as the commands ask a vhost's listing: undefined when it does not exist (404).
        vhostExists: async (cluster, vhost) =>
          (await getInVhost(clusters.get(cluster), 'vhosts', vhost, z.unknown())) !== undefined,
      });
      service.start();
      tap = service;
      cleanups.push(() => service.stop());
    }
    if (config.health.enabled && config.clusters.length > 0) {
      const channel = config.health.channel ?? alertChannel;
      if (!channel) {
        logger.warn('health alerts have no channel (set health.channel or slack.alertChannel): tracked, not posted');
      }
      const monitor = new HealthMonitor({
        clusters,
        health: config.health,
        channel,
        pacer,
        redis,
        keyPrefix: `${keys}health:`,
        chat,
        logger,
        metrics: createHealthMetrics(metrics.registry),
        hasWorkflow: (name) => allWorkflows.some((w) => w.name === name),
      });
      health = monitor;
      const scheduler = await SweepScheduler.start({
        redis: redisTarget,
        prefix: `${keys}bull`,
        clusters: clusters.names,
        intervalMs: config.health.interval,
        sweep: (cluster) => monitor.sweep(cluster),
        logger,
      });
      cleanups.push(() => scheduler.stop());
    }
    if (config.clusters.length > 0) {
      const engine = new WorkflowEngine({
        clusters,
        remediation: config.remediation,
        health: config.health,
        redis,
        keyPrefix: `${keys}remediation:`,
        chat,
        pacer,
        slackCallMs: config.slack.apiTimeoutMs,
        access,
        logger,
        workflows: allWorkflows,
        alert: async (id) => (await health?.alerts())?.find((a) => a.id === id),
        workflowOfCheck: (check) => health?.checks.find((c) => c.id === check)?.workflow,
      });
      engine.startSweeping();
      remediation = engine;
      cleanups.push(() => engine.stop());
    }
    if (httpPort === undefined) {
      const server = await startStandaloneServer(routes, config.port);
      cleanups.push(() => server.close());
      httpPort = server.port;
    }
    logger.info(
      { mode: config.slack.mode, clusters: clusters.names, httpPort, embedded: localStack !== undefined },
      'warren started',
    );
    return {
      config,
      clusters,
      chat,
      router,
      actions,
      metrics,
      redis,
      httpPort,
      localStack,
      tap,
      health,
      remediation,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
