/**
 * Hostile and broken Slack requests against the real Bolt receiver of a running warren (fast-check for the
 * generated ones): block_actions payloads with fields removed, replaced or tampered with (run ids, alert ids,
 * action ids, users, channels), random JSON and random bodies, all correctly signed; and unsigned, badly signed,
 * expired, future and oversized requests. None may get a 5xx, raise an unhandled rejection, change any state, or
 * stop warren from answering the next real command.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SLACK_BODY_LIMIT } from '../../src/chat/slack-front-end.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import { blockActionsPayload, interactionBody, postToBolt, slashCommandBody } from '../support/slack-signing.js';
import {
  eventsUrl,
  flushHarnessRedis,
  harnessKeys,
  SIGNING_SECRET,
  slash,
  startHarnessWarren,
} from '../support/warren-harness.js';

const KEYS = harnessKeys('chat-slack-requests-fuzz');
const RUNS = { clicks: 200, bodies: 40 };
const OPERATOR = 'U0OPERATOR';
const ACTION_IDS = [
  'warren:run:approve',
  'warren:run:reject',
  'warren:alert:fix',
  'warren:alert:silence',
  'warren:alert:ack',
];

describe('Slack requests under fuzzing', () => {
  const desc = inject('stack');
  let fake: FakeSlack;
  let warren: Warren;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack: desc,
      fake,
      keyPrefix: KEYS,
      yaml: `
tap:
  enabled: false
health:
  enabled: false
access:
  operators: [${OPERATOR}]
  approvers: [U0APPROVER]
`,
    });
  });

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await warren?.stop();
    await fake?.stop();
  });

  /** Nothing a hostile request may leave behind: no run, no alert state, nothing posted in a channel. */
  async function expectNoState(): Promise<void> {
    expect(await warren.redis.keys(`${KEYS}remediation:run:*`)).toEqual([]);
    expect(await warren.redis.keys(`${KEYS}health:alert:*`)).toEqual([]);
    expect(fake.callsTo('chat.postMessage')).toEqual([]);
    expect(fake.callsTo('chat.update')).toEqual([]);
  }

  it('answers tampered and broken button clicks without a 5xx, and changes nothing', async () => {
    const field = fc.constantFrom('user', 'channel', 'container', 'message', 'actions', 'response_url', 'type', 'team');
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          actionId: fc.oneof(fc.constantFrom(...ACTION_IDS), fc.string({ maxLength: 40 })),
          value: fc.oneof(
            fc.stringMatching(/^r-[0-9a-f]{8}$/),
            fc.constantFrom('zombie-queues@local', 'r-00000000', '', '../../etc/passwd', '{"run":"r-1"}'),
            fc.string({ unit: 'grapheme', maxLength: 3_000 }),
          ),
          user: fc.oneof(fc.constantFrom(OPERATOR, 'U0APPROVER', 'U0STRANGER'), fc.string({ maxLength: 20 })),
          channel: fc.oneof(fc.constant('C0OPS'), fc.string({ maxLength: 20 })),
          removed: fc.array(field, { maxLength: 3 }),
          replaced: fc.array(fc.tuple(field, fc.jsonValue({ maxDepth: 2 })), { maxLength: 2 }),
        }),
        async ({ actionId, value, user, channel, removed, replaced }) => {
          const payload: Record<string, unknown> = blockActionsPayload({
            user_id: user,
            channel_id: channel,
            action_id: actionId,
            value,
            response_url: fake.responseUrl('fuzz'),
          });
          for (const key of removed) delete payload[key];
          for (const [key, replacement] of replaced) payload[key] = replacement;
          const { status } = await postToBolt(eventsUrl(warren), SIGNING_SECRET, interactionBody(payload));
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS.clicks },
    );
    await expectNoState();
  }, 300_000);

  it('answers random signed bodies and payloads without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }).map((value) => `payload=${encodeURIComponent(JSON.stringify(value))}`),
          fc.string({ maxLength: 500 }).map((text) => `payload=${encodeURIComponent(text)}`),
          fc.string({ unit: 'binary', maxLength: 500 }),
          fc.string({ maxLength: 200 }).map((text) =>
            slashCommandBody({
              text,
              user_id: 'U0STRANGER',
              channel_id: 'C0OPS',
              response_url: fake.responseUrl('x'),
            }),
          ),
        ),
        async (body) => {
          const { status } = await postToBolt(eventsUrl(warren), SIGNING_SECRET, body, {
            contentType: 'application/x-www-form-urlencoded',
          });
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS.bodies },
    );
    await expectNoState();
  }, 300_000);

  it('refuses signed bodies Bolt could not read (a null payload …) with 400 and the reason, before Bolt', async () => {
    const url = eventsUrl(warren);
    const form = 'application/x-www-form-urlencoded';
    const cases: [body: string, contentType: string, reason: string][] = [
      ['payload=null', form, 'the interaction payload is null, not a JSON object'],
      ['payload=3', form, 'the interaction payload is a number, not a JSON object'],
      [`payload=${encodeURIComponent('"x"')}`, form, 'the interaction payload is a string, not a JSON object'],
      [`payload=${encodeURIComponent('[]')}`, form, 'the interaction payload is a list, not a JSON object'],
      ['payload=%7B', form, 'the interaction payload is not JSON'],
      ['payload=%7B%7D&payload=%7B%7D', form, 'a form field is given more than once'],
      ['command=%2Frabbit&text=status&text=status', form, 'a form field is given more than once'],
      ['null', 'application/json', 'the JSON body is null, not an object'],
      ['null', 'text/plain', 'the JSON body is null, not an object'],
      ['[1]', 'application/json', 'the JSON body is a list, not an object'],
    ];
    for (const [body, contentType, reason] of cases) {
      const answer = await postToBolt(url, SIGNING_SECRET, body, { contentType });
      expect({ body, status: answer.status, reason: answer.body }).toEqual({ body, status: 400, reason });
    }
    // The signature is still checked first: unsigned or badly signed, the same body is a 401.
    const unsigned = await fetch(url, { method: 'POST', headers: { 'content-type': form }, body: 'payload=null' });
    expect(unsigned.status).toBe(401);
    expect((await postToBolt(url, SIGNING_SECRET, 'payload=null', { signature: 'v0=00' })).status).toBe(401);
    expect(unhandled).toEqual([]);
    await expectNoState();
  });

  it('refuses unsigned, badly signed, expired and oversized requests', async () => {
    const body = slashCommandBody({
      text: 'status',
      user_id: OPERATOR,
      channel_id: 'C0OPS',
      response_url: fake.responseUrl('s'),
    });
    const now = Math.floor(Date.now() / 1000);
    const url = eventsUrl(warren);
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    expect(unsigned.status).toBe(401);
    expect((await postToBolt(url, SIGNING_SECRET, body, { signature: 'v0=nothex' })).status).toBe(401);
    expect((await postToBolt(url, SIGNING_SECRET, body, { timestampSec: now - 6 * 60 })).status).toBe(401);
    const huge = `${body}&padding=${'x'.repeat(SLACK_BODY_LIMIT + 1)}`;
    expect((await postToBolt(url, SIGNING_SECRET, huge)).status).toBe(413);
    expect(fake.responses.filter((r) => r.id === 's')).toEqual([]);
  });

  it('still answers a real command afterwards, with no unhandled rejection on the way', async () => {
    const reply = await slash(warren, fake, OPERATOR, 'status');
    expect(String(reply.text)).toContain(desc.nodes[0]?.name as string);
    expect(unhandled).toEqual([]);
  });
});
