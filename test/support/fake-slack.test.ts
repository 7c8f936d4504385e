// Proves test/support against the real clients: @slack/web-api's WebClient talking to FakeSlack, Bolt's own signature
// verifier accepting our signatures, and a real Bolt App driven end to end through its HTTPReceiver.
import type { AddressInfo } from 'node:net';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import { type WebAPIRateLimitedError, WebClient, LogLevel as WebLogLevel } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FAKE_BOT_ID, FAKE_BOT_USER_ID, FAKE_TEAM_ID, FakeSlack } from './fake-slack.js';
import {
  blockActionsPayload,
  interactionBody,
  postToBolt,
  signSlackRequest,
  slashCommandBody,
} from './slack-signing.js';

const SECRET = 'test-signing-secret';

let fake: FakeSlack;

beforeAll(async () => {
  fake = await FakeSlack.start();
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  fake.reset();
});

function client(options: ConstructorParameters<typeof WebClient>[1] = {}): WebClient {
  return new WebClient('xoxb-test', { slackApiUrl: fake.apiUrl, logLevel: WebLogLevel.ERROR, ...options });
}

describe('FakeSlack with the real WebClient', () => {
  it('answers auth.test with the fixed fake identity', async () => {
    const res = await client().auth.test();
    expect(res).toMatchObject({ ok: true, team_id: FAKE_TEAM_ID, user_id: FAKE_BOT_USER_ID, bot_id: FAKE_BOT_ID });
    expect(fake.callsTo('auth.test')[0]?.token).toBe('xoxb-test');
  });

  it('records chat.postMessage with blocks decoded and returns increasing ts', async () => {
    const web = client();
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*queue* backed up' } }];
    const first = await web.chat.postMessage({ channel: 'C1', text: 'alert', blocks, unfurl_links: false });
    const second = await web.chat.postMessage({ channel: 'C1', text: 'again' });

    expect(first).toMatchObject({ ok: true, channel: 'C1', message: { text: 'alert', bot_id: FAKE_BOT_ID, blocks } });
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(second.ts && first.ts && second.ts > first.ts).toBe(true);

    const [call] = fake.callsTo('chat.postMessage');
    expect(call?.token).toBe('xoxb-test');
    expect(Array.isArray(call?.params.blocks)).toBe(true);
    expect(call?.params).toMatchObject({ channel: 'C1', text: 'alert', blocks, unfurl_links: 'false' });
    expect(call?.params).not.toHaveProperty('token');
  });

  it('answers chat.update, postEphemeral, getPermalink, views.open and usergroups.users.list', async () => {
    const web = client();
    fake.setUsergroup('S1', ['U1', 'U2']);
    await expect(web.chat.update({ channel: 'C1', ts: '1700000000.000100', text: 'acked' })).resolves.toMatchObject({
      ok: true,
      channel: 'C1',
      ts: '1700000000.000100',
      text: 'acked',
    });
    const eph = await web.chat.postEphemeral({ channel: 'C1', user: 'U1', text: 'only you' });
    expect(eph.message_ts).toMatch(/^\d{10}\.\d{6}$/);
    const link = await web.chat.getPermalink({ channel: 'C1', message_ts: '1700000000.000100' });
    expect(link.permalink).toMatch(/\/archives\/C1\/p1700000000000100$/);
    const view = await web.views.open({
      trigger_id: 't',
      view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] },
    });
    expect(view.view?.id).toMatch(/^V/);
    expect((await web.usergroups.users.list({ usergroup: 'S1' })).users).toEqual(['U1', 'U2']);
    expect((await web.usergroups.users.list({ usergroup: 'S2' })).users).toEqual([]);
    expect(await web.apiCall('reactions.add', { channel: 'C1', timestamp: '1', name: 'eyes' })).toMatchObject({
      ok: true,
    });
  });

  it('answers not_authed only when no token is sent at all', async () => {
    const res = await fetch(`${fake.apiUrl}auth.test`, { method: 'POST' });
    expect(await res.json()).toEqual({ ok: false, error: 'not_authed' });
    const viaParam = await fetch(`${fake.apiUrl}auth.test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'xoxb-json' }),
    });
    expect(await viaParam.json()).toMatchObject({ ok: true });
    expect(fake.calls.map((c) => c.token)).toEqual([undefined, 'xoxb-json']);
  });

  it('waitForCall resolves for a call made after it was called', async () => {
    const waiting = fake.waitForCall('chat.postMessage', (c) => c.params.text === 'later');
    await client().chat.postMessage({ channel: 'C1', text: 'sooner' });
    await client().chat.postMessage({ channel: 'C1', text: 'later' });
    await expect(waiting).resolves.toMatchObject({ params: { text: 'later' } });
  });

  it('waitForCall rejects listing the calls it saw', async () => {
    await client().chat.postMessage({ channel: 'C9', text: 'hello' });
    await expect(fake.waitForCall('chat.update', undefined, 50)).rejects.toThrow(/chat\.postMessage.*C9/);
  });

  it('enforcePace answers 429 with Retry-After to a second message in a channel within the interval', async () => {
    fake.enforcePace(60_000);
    try {
      const post = (channel: string) =>
        fetch(`${fake.apiUrl}chat.postMessage`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer xoxb-pace' },
          body: JSON.stringify({ channel, text: 'x' }),
        });
      expect((await post('C1')).status).toBe(200);
      const refused = await post('C1');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
      expect((await post('C2')).status).toBe(200);
      expect(fake.calls.map((c) => `${c.params.channel} ${c.status}`)).toEqual(['C1 200', 'C1 429', 'C2 200']);
    } finally {
      fake.enforcePace(0);
    }
  });

  it('failNext 429 + Retry-After makes the WebClient retry', async () => {
    fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '1' } });
    const res = await client({ retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 1 } }).chat.postMessage({
      channel: 'C1',
      text: 'retry me',
    });
    expect(res.ok).toBe(true);
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
  });

  it('failNext 429 surfaces as a rate-limit error with rejectRateLimitedCalls', async () => {
    fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '7' } });
    const err = await client({ rejectRateLimitedCalls: true })
      .chat.postMessage({ channel: 'C1', text: 'nope' })
      .catch((e: unknown) => e as WebAPIRateLimitedError);
    expect(err).toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 7 });
    expect(fake.callsTo('chat.postMessage')).toHaveLength(1);
  });

  it('hold keeps callers waiting in matching calls until released, letting others through', async () => {
    const held = fake.hold('chat.postMessage', (c) => c.params.text === 'wait');
    let answered = 0;
    const wait = () =>
      client()
        .chat.postMessage({ channel: 'C1', text: 'wait' })
        .then(() => answered++);
    const waiting = [wait()];
    await expect(held.reached).resolves.toMatchObject({ params: { text: 'wait' } });
    waiting.push(wait());
    await client().chat.postMessage({ channel: 'C1', text: 'passes' });
    expect(answered).toBe(0);
    expect(fake.callsTo('chat.postMessage').map((c) => c.params.text)).toEqual(['passes']);
    held.release();
    await Promise.all(waiting);
    await client().chat.postMessage({ channel: 'C1', text: 'wait' });
    expect(answered).toBe(2);
    expect(fake.callsTo('chat.postMessage').map((c) => c.params.text)).toEqual(['passes', 'wait', 'wait', 'wait']);
  });

  it('answers 400 to malformed bodies and keeps serving', async () => {
    const bad = await fetch(`${fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer xoxb-test' },
      body: '{not json',
    });
    expect(bad.status).toBe(400);
    const badResponse = await fetch(fake.responseUrl(), { method: 'POST', body: '[]' });
    expect(badResponse.status).toBe(400);
    await expect(client().auth.test()).resolves.toMatchObject({ ok: true });
  });
});

describe('slack-signing', () => {
  it('produces signatures Bolt verifies, and Bolt rejects a tampered body', () => {
    const body = slashCommandBody({ text: 'status', user_id: 'U1', channel_id: 'C1', response_url: 'http://x/r' });
    const headers = signSlackRequest(SECRET, body);
    const boltHeaders = {
      'x-slack-signature': headers['x-slack-signature'],
      'x-slack-request-timestamp': Number(headers['x-slack-request-timestamp']),
    };
    expect(() => verifySlackRequest({ signingSecret: SECRET, body, headers: boltHeaders })).not.toThrow();
    expect(() => verifySlackRequest({ signingSecret: SECRET, body: `${body}x`, headers: boltHeaders })).toThrow(
      /signature mismatch/,
    );
  });

  it('drives a real Bolt App: slash command → respond(), button → chat.update', async () => {
    const app = new App({
      token: 'xoxb-bolt',
      signingSecret: SECRET,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.apiUrl },
    });
    app.command('/rabbit', async ({ ack, respond, client: web, command }) => {
      await ack();
      await respond({ response_type: 'ephemeral', text: `got ${command.text}` });
      await web.chat.postMessage({ channel: command.channel_id, text: 'posted' });
    });
    app.action('ack_alert', async ({ ack, client: web, body }) => {
      await ack();
      if (body.type !== 'block_actions' || !body.channel || !body.message) return;
      await web.chat.update({ channel: body.channel.id, ts: body.message.ts, text: 'acked' });
    });
    const server = await app.start({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
      const responseUrl = fake.responseUrl('cmd1');
      const slash = slashCommandBody({
        text: 'queues vhost /',
        user_id: 'U1',
        channel_id: 'C1',
        response_url: responseUrl,
      });
      const acked = await postToBolt(url, SECRET, slash);
      expect(acked.status).toBe(200);
      await expect(fake.waitForResponse((r) => r.id === 'cmd1')).resolves.toMatchObject({
        body: { response_type: 'ephemeral', text: 'got queues vhost /' },
      });
      await expect(fake.waitForCall('chat.postMessage')).resolves.toMatchObject({
        token: 'xoxb-bolt',
        params: { channel: 'C1' },
      });

      const click = interactionBody(
        blockActionsPayload({
          user_id: 'U1',
          channel_id: 'C1',
          action_id: 'ack_alert',
          value: 'alert-1',
          message_ts: '1700000000.000100',
          response_url: fake.responseUrl(),
        }),
      );
      expect((await postToBolt(url, SECRET, click)).status).toBe(200);
      await expect(fake.waitForCall('chat.update')).resolves.toMatchObject({
        params: { channel: 'C1', ts: '1700000000.000100', text: 'acked' },
      });

      expect((await postToBolt(url, SECRET, slash, { signature: 'v0=deadbeef' })).status).toBe(401);
    } finally {
      await app.stop();
    }
  });
});
