#!/usr/bin/env node
/**
 * The `warren` command line: `warren start` runs the bot, `warren check-config [file]` validates a config and
 * prints the effective settings with secrets masked, `warren audit-export [--since ISO-time]` writes the remediation
 * audit trail as JSON lines. Bad configuration exits with code 2 and one line per problem.
 */
import { stringify } from 'yaml';
import { loadConfig } from './config/load.js';
import { maskedConfig } from './config/mask.js';
import { ConfigError } from './errors.js';
import { createLogger } from './logger.js';
import { connectRedis } from './redis/redis-connection.js';
import { AuditLog } from './remediation/audit-log.js';
import { scrub } from './secrets.js';
import { startWarren, type Warren } from './warren.js';

const USAGE = `usage: warren start
       warren check-config [file]
       warren audit-export [--since 2026-01-31T00:00:00Z]

Environment: WARREN_CONFIG, REDIS_URL, PORT, LOG_LEVEL, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET,
SLACK_APP_TOKEN, SLACK_API_URL, RABBITMQ_URL, RABBITMQ_MANAGEMENT_URL (see docs/configuration.md).`;

export const EXIT_CONFIG = 2;

function reportConfigError(error: ConfigError): number {
  process.stderr.write(`warren: invalid configuration (${error.problems.length} problem(s)):\n`);
  for (const problem of error.problems) process.stderr.write(`  ${scrub(`${problem.path}: ${problem.message}`)}\n`);
  return EXIT_CONFIG;
}

async function checkConfig(file: string | undefined): Promise<number> {
  const config = loadConfig({ file });
  process.stdout.write(`configuration OK${config.file ? ` (${config.file})` : ' (environment only)'}\n`);
  process.stdout.write(stringify(maskedConfig(config)));
  if (config.clusters.length === 0) {
    process.stdout.write('# no cluster configured: `warren start` will run the embedded local stack\n');
  }
  return 0;
}

/** One JSON object per line, oldest first, read from Redis in batches: fit for `>> archive.jsonl`. */
async function auditExport(args: string[]): Promise<number> {
  let sinceMs = 0;
  if (args[0] === '--since') {
    sinceMs = Date.parse(args[1] ?? '');
    if (Number.isNaN(sinceMs)) {
      process.stderr.write(`warren: --since needs an ISO 8601 time such as 2026-01-31T00:00:00Z\n`);
      return 64;
    }
  } else if (args.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  const config = loadConfig();
  const redis = connectRedis(
    { url: config.redisUrl, ...(config.redisSentinel ? { sentinel: config.redisSentinel } : {}) },
    { lazyConnect: true, maxRetriesPerRequest: 1 },
  );
  try {
    await redis.connect();
    const log = new AuditLog(redis, config.remediation.auditRetention, `${config.redisKeyPrefix}remediation:`);
    for await (const entry of log.since(sinceMs)) {
      const line = `${JSON.stringify({ ...entry, at: new Date(entry.at).toISOString() })}\n`;
      if (!process.stdout.write(line)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
    return 0;
  } finally {
    redis.disconnect();
  }
}

async function start(): Promise<number> {
  const config = loadConfig();
  // In the console the terminal is the chat, so logs go to stderr, quieter unless asked otherwise.
  const consoleMode = config.slack.mode === 'console';
  const logger = createLogger(
    consoleMode && !process.env.LOG_LEVEL ? 'warn' : config.logLevel,
    consoleMode ? process.stderr : undefined,
  );
  let stopping: Promise<void> | undefined;
  let warren: Warren | undefined;
  let closeRequested = false;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  const shutdown = (reason: string) => {
    closeRequested = true;
    if (!stopping && warren) {
      logger.info({ reason }, 'warren stopping');
      stopping = warren.stop().then(() => resolveDone(0));
    }
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  warren = await startWarren(config, { logger, onConsoleClose: () => shutdown('console closed') });
  // A signal or end of input that arrived while starting is honoured now that there is something to stop.
  if (closeRequested) shutdown('requested during start-up');
  return done;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'start') return await start();
    if (command === 'check-config') return await checkConfig(rest[0]);
    if (command === 'audit-export') return await auditExport(rest);
    process.stderr.write(`${USAGE}\n`);
    return command === undefined || command === '--help' || command === 'help' ? 0 : 64;
  } catch (error) {
    if (error instanceof ConfigError) return reportConfigError(error);
    process.stderr.write(`warren: ${scrub(error instanceof Error ? error.message : String(error))}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Lingering sockets (Redis reconnects, keep-alive) must not keep a stopped warren alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
