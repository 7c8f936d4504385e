/**
 * `/rabbit status` end to end through the real Bolt HTTP receiver, against the real 3-node cluster, with the Web
 * API and response_url served by the fake Slack.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isRateLimited, retryDelayMs } from '../../src/chat/channel-pacer.js';
import { loadConfig } from '../../src/config/load.js';
import { startWarren, type Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import { scanningLogger } from '../support/secret-scan.js';
import { postToBolt, slashCommandBody } from '../support/slack-signing.js';
import { stackEnv } from '../support/stack-env.js';
import { harnessKeys } from '../support/warren-harness.js';

const KEYS = harnessKeys('chat-slack-front-end');

const SIGNING_SECRET = 'test-signing-secret-0123456789';
const SCOPED_VHOST = `/neutron-${process.pid}`;

describe('Slack front end (HTTP mode)', () => {
  const stack = inject('stack');
  let fake: FakeSlack;
  let warren: Warren;
  let eventsUrl: string;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    fake.setUsergroup('S0ONCALL', ['U0CAROL']);
    const dir = mkdtempSync(join(tmpdir(), 'warren-slack-'));
    writeFileSync(
      join(dir, 'warren.yaml'),
      `access:\n  operators: [S0ONCALL]\n  vhostScopes: [{channels: [C0NEUTRON], vhosts: ['${SCOPED_VHOST}']}]\ntap:\n  bindings: []\n`,
    );
    // A vhost of the neutron team's own, holding one queue, beside the default vhost's queues.
    const vhostPath = `/api/vhosts/${encodeURIComponent(SCOPED_VHOST)}`;
    await management('PUT', vhostPath, {});
    await management('PUT', `/api/permissions/${encodeURIComponent(SCOPED_VHOST)}/${stack.username}`, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
    await management('PUT', `/api/queues/${encodeURIComponent(SCOPED_VHOST)}/neutron-scope-q`, { durable: false });
    await management('PUT', '/api/queues/%2F/nova-scope-q', { durable: false });
    const config = loadConfig({
      env: {
        ...stackEnv(stack),
        REDIS_KEY_PREFIX: KEYS,
        SLACK_BOT_TOKEN: 'xoxb-test-token',
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        WARREN_CONFIG: join(dir, 'warren.yaml'),
      },
    });
    warren = await startWarren(config, { logger: scanningLogger() });
    eventsUrl = `http://127.0.0.1:${warren.httpPort}/slack/events`;
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    await management('DELETE', `/api/vhosts/${encodeURIComponent(SCOPED_VHOST)}`);
    await management('DELETE', '/api/queues/%2F/nova-scope-q');
  });

  /** The real cluster's management API, as its admin, for the test's own set-up. */
  async function management(method: string, path: string, body?: unknown): Promise<void> {
    const base = stack.nodes[0]?.managementUrl;
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${stack.username}:${stack.password}`).toString('base64')}`,
        'content-type': 'application/json',
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  }

  const statusBody = (responseId: string, text = 'status') =>
    slashCommandBody({
      text,
      user_id: 'U0ALICE',
      channel_id: 'C0OPS',
      response_url: fake.responseUrl(responseId),
    });

  it("acknowledges at once and answers with the real cluster's three nodes", async () => {
    const ack = await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('status-ok'));
    expect(ack.status).toBe(200);
    const response = await fake.waitForResponse((r) => r.id === 'status-ok', 20_000);
    expect(response.body.response_type).toBe('ephemeral');
    const text = String(response.body.text);
    for (const node of stack.nodes) expect(text).toContain(node.name);
    expect(text).toContain('3/3 nodes running, no partitions, no alarms');
    expect(text).toContain('RabbitMQ 3.10');
    const blocks = response.body.blocks as Array<{ type: string }>;
    expect(blocks[0]?.type).toBe('header');
    expect(JSON.stringify(response.body)).not.toContain(stack.password);
  });

  it('answers a usage error ephemerally with the usage line', async () => {
    await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('usage', 'status one two'));
    const response = await fake.waitForResponse((r) => r.id === 'usage');
    expect(response.body).toMatchObject({
      response_type: 'ephemeral',
      text: 'status takes at most one cluster name\nUsage: `/rabbit status [cluster]`',
    });
  });

  it('refuses an invalid signature with 401 and does nothing', async () => {
    const forged = await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('forged'), {
      signature: `v0=${'0'.repeat(64)}`,
    });
    expect(forged.status).toBe(401);
    const wrongSecret = await postToBolt(eventsUrl, 'not-the-secret', statusBody('wrong-secret'));
    expect(wrongSecret.status).toBe(401);
    const stale = await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('stale'), {
      timestampSec: Math.floor(Date.now() / 1000) - 10 * 60,
    });
    expect(stale.status).toBe(401);
    // A valid request sent afterwards is answered; by then the refused ones would have been answered too.
    await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('after'));
    await fake.waitForResponse((r) => r.id === 'after', 20_000);
    expect(fake.responses.map((r) => r.id)).not.toEqual(expect.arrayContaining(['forged']));
    expect(fake.responses.filter((r) => ['forged', 'wrong-secret', 'stale'].includes(r.id))).toEqual([]);
  });

  it('lets members of an operator user group run operator commands, and nobody else', async () => {
    const body = (user: string, id: string, text: string) =>
      slashCommandBody({ text, user_id: user, channel_id: 'C0OPS', response_url: fake.responseUrl(id) });
    await postToBolt(eventsUrl, SIGNING_SECRET, body('U0DAVE', 'dave-pause', 'tap pause'));
    expect((await fake.waitForResponse((r) => r.id === 'dave-pause')).body.text).toBe(
      'Not allowed: only operators (access.operators) may run this; <@U0DAVE> is not one.',
    );
    await postToBolt(eventsUrl, SIGNING_SECRET, body('U0CAROL', 'carol-pause', 'tap pause'));
    expect((await fake.waitForResponse((r) => r.id === 'carol-pause')).body).toMatchObject({
      response_type: 'in_channel',
      text: '<@U0CAROL> paused the notification tap for default.',
    });
    await postToBolt(eventsUrl, SIGNING_SECRET, body('U0CAROL', 'carol-resume', 'tap resume'));
    await fake.waitForResponse((r) => r.id === 'carol-resume');
  });

  it('keeps a scoped channel to its vhost on the real cluster: its queues only, another vhost refused', async () => {
    const body = (id: string, text: string) =>
      slashCommandBody({ text, user_id: 'U0ALICE', channel_id: 'C0NEUTRON', response_url: fake.responseUrl(id) });
    await postToBolt(eventsUrl, SIGNING_SECRET, body('scoped-queues', 'queues --limit 200'));
    const listing = String((await fake.waitForResponse((r) => r.id === 'scoped-queues', 20_000)).body.text);
    expect(listing).toContain(`*Queues on \`default\`* in vhost \`${SCOPED_VHOST}\`: 1, by messages`);
    expect(listing).toContain('`neutron-scope-q`');
    expect(listing).not.toContain('nova-scope-q');
    await postToBolt(eventsUrl, SIGNING_SECRET, body('scoped-refused', 'queues --vhost /'));
    expect((await fake.waitForResponse((r) => r.id === 'scoped-refused')).body).toMatchObject({
      response_type: 'ephemeral',
      text: `Not allowed: this channel sees only vhost \`${SCOPED_VHOST}\` (access.vhostScopes), not \`/\`.`,
    });
    // The same person in an unscoped channel sees the default vhost's queue.
    await postToBolt(eventsUrl, SIGNING_SECRET, statusBody('unscoped-queues', 'queues nova-scope-q'));
    expect(String((await fake.waitForResponse((r) => r.id === 'unscoped-queues', 20_000)).body.text)).toContain(
      '`nova-scope-q`',
    );
  });

  it('serves /healthz, /readyz and /metrics beside the Slack endpoint', async () => {
    const base = `http://127.0.0.1:${warren.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      ready: true,
      checks: { redis: true, 'cluster:default': true },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('warren_commands_total{command="status",outcome="ok"}');
    expect(metrics).toContain('warren_process_resident_memory_bytes');
  });

  it('posts to channels through the Web API with secrets scrubbed', async () => {
    const posted = await warren.chat.post('C0ALERTS', { text: `leak test ${stack.password}` });
    const call = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === 'C0ALERTS' && String(c.params.text).startsWith('leak test'),
    );
    // the ts warren hands back is the one Slack answered with, which later edits and replies must use
    expect(posted.ts).toBe((call.reply as { ts: string }).ts);
    expect(call.params.text).toBe('leak test ***');
    expect(call.token).toBe('xoxb-test-token');
  });

  it('fails a call Slack answers 429 at once, with its Retry-After, for the channel pacer to wait out', async () => {
    fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '7' } });
    const error = await warren.chat.post('C0PACED', { text: 'paced' }).catch((e: unknown) => e);
    expect(isRateLimited(error)).toBe(true);
    expect(retryDelayMs(error)).toBe(7_000);
    // Not sent again inside the call: the retry is the pacer's to schedule.
    expect(fake.callsTo('chat.postMessage').filter((c) => c.params.channel === 'C0PACED')).toHaveLength(1);
    await warren.chat.post('C0PACED', { text: 'paced' });
  });
});
