/**
 * Starts a real warren in Slack HTTP mode against the test run's local stack and a fake Slack, with a config
 * written to a temporary file, and sends it signed slash commands and button clicks. Each test file passes its own
 * Redis database so alert state, schedules and locks of one file never leak into another.
 */

import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { allocatePorts, type LocalStackDescription } from '../../src/devstack/index.js';
import { startWarren, type Warren } from '../../src/warren.js';
import type { FakeSlack, RecordedCall } from './fake-slack.js';
import { type CliRun, runCli } from './run-cli.js';
import { scanningLogger } from './secret-scan.js';
import { blockActionsPayload, interactionBody, postToBolt, slashCommandBody } from './slack-signing.js';
import { stackEnv } from './stack-env.js';
import { waitUntil } from './wait-until.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789';
export const HARNESS_BOT_TOKEN = 'xoxb-test-token-0123456789';

export interface HarnessOptions {
  stack: LocalStackDescription;
  fake: FakeSlack;
  /** YAML of the config file. */
  yaml: string;
  /**
   * The test file's own part of the stack's Redis (REDIS_KEY_PREFIX, see `harnessKeys`); unset with a Redis of the
   * test's own (`redisUrl`), where warren's default prefix is alone.
   */
  keyPrefix?: string;
  /** The YAML defines `clusters` itself (e.g. with nodeControl), so RABBITMQ_URL must not be set too. */
  clustersInYaml?: boolean;
  /** A Redis of the test's own instead of the stack's. */
  redisUrl?: string;
  /** More environment, e.g. REDIS_SENTINELS. */
  env?: Record<string, string>;
  /** Sees every log line warren writes (after the secret scan), for tests that check what is logged. */
  onLogLine?: (line: string) => void;
}

/**
 * A test file's key prefix in the stack's one Redis (warren's REDIS_KEY_PREFIX): files never see each other's keys,
 * whatever they are named, without a database number each (Redis has 16, and the files outnumber them).
 */
export function harnessKeys(file: string): string {
  return `test-${file}:`;
}

/**
 * Deletes the file's keys: with WARREN_TEST_REUSE the stack, and alert state left in it, outlive a run. Fails
 * rather than wipe the keys of warren's default prefix, which no test file owns.
 */
export async function flushHarnessRedis(stack: LocalStackDescription, keyPrefix: string): Promise<void> {
  if (!keyPrefix.startsWith('test-')) throw new Error(`flushHarnessRedis: ${keyPrefix} is not a test file's prefix`);
  const redis = new Redis(stack.redisUrl);
  try {
    for (let cursor = '0'; ; ) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

export async function startHarnessWarren(options: HarnessOptions): Promise<Warren> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-test-'));
  writeFileSync(join(dir, 'warren.yaml'), options.yaml);
  const config = loadConfig({
    env: {
      ...(options.clustersInYaml ? { REDIS_URL: options.stack.redisUrl, PORT: '0' } : stackEnv(options.stack)),
      REDIS_URL: options.redisUrl ?? options.stack.redisUrl,
      ...(options.keyPrefix ? { REDIS_KEY_PREFIX: options.keyPrefix } : {}),
      SLACK_BOT_TOKEN: HARNESS_BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: options.fake.apiUrl,
      WARREN_CONFIG: join(dir, 'warren.yaml'),
      ...options.env,
    },
  });
  return startWarren(config, { logger: scanningLogger(options.onLogLine) });
}

/**
 * The start of a config for tests that wait for alerts: a sweep every second, an alert at its first finding, posted
 * to C0ALERTS with Slack unpaced, no tap. It ends inside `health:`, so a test may add keys there (indented two
 * spaces), then sections of its own.
 */
export const SWEEPING_YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
tap:
  enabled: false
health:
  interval: 1s
  defaultFor: 1`;

/** A config for remediation tests: Slack unpaced, no tap, no sweeps, and who may do what in one channel. */
export function remediationTestYaml(
  access: { operators: string[]; approvers: string[]; channel: string },
  remediation: Record<string, string>,
): string {
  return `
slack:
  channelInterval: 0ms
tap:
  enabled: false
health:
  enabled: false
access:
  operators: [${access.operators.join(', ')}]
  approvers: [${access.approvers.join(', ')}]
  channels: [${access.channel}]
remediation:
${Object.entries(remediation)
  .map(([key, value]) => `  ${key}: ${value}`)
  .join('\n')}
`;
}

/** A warren to send requests to: one started here, or a separate process listening on that port. */
export type SlackTarget = Pick<Warren, 'httpPort'>;

export function eventsUrl(warren: SlackTarget): string {
  return `http://127.0.0.1:${warren.httpPort}/slack/events`;
}

export interface WarrenProcess extends SlackTarget {
  cli: CliRun;
}

/**
 * Runs warren as a process of its own (`warren start` from source) in Slack HTTP mode on a free port, for tests that
 * kill it with SIGKILL, and resolves once its /readyz answers. Its logs are off: the secret scan reads only
 * the logs of warrens started in the test's own process.
 */
export async function spawnHarnessWarren(options: {
  stack: LocalStackDescription;
  fake: FakeSlack;
  /** A config file written by the test. */
  configPath: string;
  /** See HarnessOptions.keyPrefix. */
  keyPrefix: string;
}): Promise<WarrenProcess> {
  const httpPort = (await allocatePorts(1))[0] as number;
  const cli = runCli(['start'], {
    ...stackEnv(options.stack),
    REDIS_URL: options.stack.redisUrl,
    REDIS_KEY_PREFIX: options.keyPrefix,
    WARREN_CONFIG: options.configPath,
    PORT: String(httpPort),
    SLACK_BOT_TOKEN: HARNESS_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: options.fake.apiUrl,
    LOG_LEVEL: 'silent',
  });
  try {
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok,
      'the warren process to be ready',
      60_000,
    );
  } catch (error) {
    cli.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; its stderr:\n${cli.stderr()}`);
  }
  return { cli, httpPort };
}

/** Sends `/rabbit <text>` as `user` and returns what warren answered through response_url. */
export async function slash(
  warren: SlackTarget,
  fake: FakeSlack,
  user: string,
  text: string,
  channel = 'C0OPS',
): Promise<Record<string, unknown>> {
  const id = randomUUID();
  const body = slashCommandBody({ text, user_id: user, channel_id: channel, response_url: fake.responseUrl(id) });
  const ack = await postToBolt(eventsUrl(warren), SIGNING_SECRET, body);
  if (ack.status !== 200) throw new Error(`slash command refused with ${ack.status}`);
  return (await fake.waitForResponse((r) => r.id === id, 30_000)).body;
}

/** Clicks a button as `user` and returns warren's ephemeral answer to the clicker. */
export async function click(
  warren: SlackTarget,
  fake: FakeSlack,
  opts: { user: string; actionId: string; value: string; channel?: string; messageTs?: string },
): Promise<Record<string, unknown>> {
  const id = randomUUID();
  const payload = blockActionsPayload({
    user_id: opts.user,
    channel_id: opts.channel ?? 'C0ALERTS',
    action_id: opts.actionId,
    value: opts.value,
    message_ts: opts.messageTs,
    response_url: fake.responseUrl(id),
  });
  const ack = await postToBolt(eventsUrl(warren), SIGNING_SECRET, interactionBody(payload));
  if (ack.status !== 200) throw new Error(`click refused with ${ack.status}`);
  return (await fake.waitForResponse((r) => r.id === id, 30_000)).body;
}

/** Clicks Approve on a run's request message, as `user`; the ephemeral answer. */
export function approveRun(
  warren: SlackTarget,
  fake: FakeSlack,
  opts: { user: string; runId: string; post: RecordedCall; channel: string },
): Promise<Record<string, unknown>> {
  return click(warren, fake, {
    user: opts.user,
    actionId: 'warren:run:approve',
    value: opts.runId,
    channel: opts.channel,
    messageTs: (opts.post.reply as { ts: string }).ts,
  });
}

/** Sum of a counter's values in a warren's registry, optionally only the series whose labels match. */
export async function counterSum(warren: Warren, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = warren.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
