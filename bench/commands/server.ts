/**
 * The server side of bench/commands, one per child process so that neither side's work (warren's health sweeps,
 * tap and status commands; the client's and the fake Slack's own work) lands on the other's event loop:
 *
 *   BENCH_SERVER=warren  a real warren (`startWarren`, Slack HTTP mode, default config) on the stack in BENCH_STACK
 *   BENCH_SERVER=bare    a bare Bolt `App` with an `HTTPReceiver`, the receiver warren uses, whose `/rabbit`
 *                        listener only acknowledges
 *
 * Both use the signing secret in BENCH_SIGNING_SECRET, the bot token `xoxb-bench-token` and the Web API at
 * BENCH_SLACK_API_URL (the parent's fake Slack), listen on a free port and report it with `{ type: 'ready', port }`.
 * They stop when the parent disconnects the IPC channel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { SLACK_BODY_LIMIT } from '../../src/chat/slack-front-end.js';
import { loadConfig } from '../../src/config/load.js';
import type { LocalStackDescription } from '../../src/devstack/index.js';
import { createLogger } from '../../src/logger.js';
import { startWarren } from '../../src/warren.js';

export type ServerKind = 'warren' | 'bare';
export type ServerReply = { type: 'ready'; port: number } | { type: 'error'; message: string };

const BOT_TOKEN = 'xoxb-bench-token';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function startWarrenServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const stack = JSON.parse(env('BENCH_STACK')) as LocalStackDescription;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  // Every default, as a fresh deployment runs: the tap on the OpenStack exchanges, health sweeps every 30 s.
  writeFileSync(join(dir, 'warren.yaml'), '{}\n');
  const config = loadConfig({
    env: {
      RABBITMQ_URL: stack.nodes.map((n) => n.amqpUrl).join(','),
      RABBITMQ_MANAGEMENT_URL: stack.nodes.map((n) => n.managementUrl).join(','),
      REDIS_URL: stack.redisUrl,
      PORT: '0',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: env('BENCH_SIGNING_SECRET'),
      SLACK_API_URL: env('BENCH_SLACK_API_URL'),
      WARREN_CONFIG: join(dir, 'warren.yaml'),
    },
  });
  const warren = await startWarren(config, { logger: createLogger(process.env.BENCH_LOG ?? 'silent') });
  return {
    port: warren.httpPort,
    stop: async () => {
      await warren.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startBareServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  // The settings warren gives Bolt (slack-front-end.ts): the same body limit and unhandled-request timeout, and no
  // conversation store; warren's own work before Bolt (its early refusals) is what the ratio measures.
  const receiver = new HTTPReceiver({
    signingSecret: env('BENCH_SIGNING_SECRET'),
    endpoints: '/slack/events',
    logLevel: LogLevel.ERROR,
    bodyLimit: SLACK_BODY_LIMIT,
    unhandledRequestTimeoutMillis: 1_000,
  });
  const apiUrl = env('BENCH_SLACK_API_URL');
  const app = new App({
    token: BOT_TOKEN,
    receiver,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` },
    convoStore: false,
  });
  app.command('/rabbit', async ({ ack }) => {
    await ack();
  });
  const server = (await app.start(0)) as Server;
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the bare Bolt app has no port');
  return { port: address.port, stop: () => app.stop().then(() => undefined) };
}

async function main(): Promise<void> {
  const kind = env('BENCH_SERVER') as ServerKind;
  let server: { port: number; stop: () => Promise<void> };
  try {
    server = kind === 'warren' ? await startWarrenServer() : await startBareServer();
  } catch (error) {
    const reply: ServerReply = { type: 'error', message: error instanceof Error ? error.message : String(error) };
    process.send?.(reply);
    process.disconnect?.();
    process.exitCode = 1;
    return;
  }
  process.once('disconnect', () => {
    server
      .stop()
      .catch((error) => console.error(`bench/commands ${kind} server: stop failed`, error))
      .finally(() => process.exit());
  });
  const reply: ServerReply = { type: 'ready', port: server.port };
  process.send?.(reply);
}

void main();
