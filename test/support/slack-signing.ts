// Builders for inbound Slack → app HTTP requests (slash commands, block_actions) signed the way Slack signs them, so
// tests can drive Bolt's HTTPReceiver through its real signature check instead of disabling verification.
import { createHmac, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { FAKE_APP_ID, FAKE_BOT_ID, FAKE_TEAM_DOMAIN, FAKE_TEAM_ID } from './fake-slack.js';

const FAKE_VERIFICATION_TOKEN = 'fakeVerificationToken0000';

export function signSlackRequest(
  signingSecret: string,
  rawBody: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): { 'x-slack-signature': string; 'x-slack-request-timestamp': string } {
  const digest = createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${rawBody}`).digest('hex');
  return { 'x-slack-signature': `v0=${digest}`, 'x-slack-request-timestamp': String(timestampSec) };
}

export interface SlashCommandFields {
  command?: string;
  text: string;
  user_id: string;
  channel_id: string;
  response_url: string;
  team_id?: string;
  user_name?: string;
  channel_name?: string;
  trigger_id?: string;
}

/** Form body in the field order Slack uses; URLSearchParams encodes spaces as '+', as Slack does. */
export function slashCommandBody(fields: SlashCommandFields): string {
  return new URLSearchParams({
    token: FAKE_VERIFICATION_TOKEN,
    team_id: fields.team_id ?? FAKE_TEAM_ID,
    team_domain: FAKE_TEAM_DOMAIN,
    channel_id: fields.channel_id,
    channel_name: fields.channel_name ?? 'warren-ops',
    user_id: fields.user_id,
    user_name: fields.user_name ?? `user.${fields.user_id.toLowerCase()}`,
    command: fields.command ?? '/rabbit',
    text: fields.text,
    api_app_id: FAKE_APP_ID,
    is_enterprise_install: 'false',
    response_url: fields.response_url,
    trigger_id: fields.trigger_id ?? fakeTriggerId(),
  }).toString();
}

/** Interactive payloads arrive as a single form field `payload` holding JSON. */
export function interactionBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface BlockActionsOptions {
  user_id: string;
  channel_id: string;
  action_id: string;
  value: string;
  block_id?: string;
  message_ts?: string;
  response_url: string;
  team_id?: string;
  user_name?: string;
  trigger_id?: string;
}

/** A button click on a bot message, shaped like a real block_actions payload (the fields Bolt routes on included). */
export function blockActionsPayload(opts: BlockActionsOptions): Record<string, unknown> {
  const teamId = opts.team_id ?? FAKE_TEAM_ID;
  const userName = opts.user_name ?? `user.${opts.user_id.toLowerCase()}`;
  const messageTs = opts.message_ts ?? '1700000000.000100';
  const blockId = opts.block_id ?? 'warren_actions';
  const actionTs = (Date.now() / 1000).toFixed(6);
  const button = {
    type: 'button',
    action_id: opts.action_id,
    text: { type: 'plain_text', text: opts.action_id, emoji: true },
    value: opts.value,
  };
  return {
    type: 'block_actions',
    user: { id: opts.user_id, username: userName, name: userName, team_id: teamId },
    api_app_id: FAKE_APP_ID,
    token: FAKE_VERIFICATION_TOKEN,
    container: { type: 'message', message_ts: messageTs, channel_id: opts.channel_id, is_ephemeral: false },
    trigger_id: opts.trigger_id ?? fakeTriggerId(),
    team: { id: teamId, domain: FAKE_TEAM_DOMAIN },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: opts.channel_id, name: 'warren-ops' },
    message: {
      type: 'message',
      subtype: 'bot_message',
      bot_id: FAKE_BOT_ID,
      app_id: FAKE_APP_ID,
      text: 'warren',
      ts: messageTs,
      team: teamId,
      blocks: [{ type: 'actions', block_id: blockId, elements: [button] }],
    },
    state: { values: {} },
    response_url: opts.response_url,
    actions: [{ ...button, block_id: blockId, action_ts: actionTs }],
  };
}

export interface PostToBoltOptions {
  /** Defaults to JSON when the body looks like a JSON object (Events API), else form-encoded. */
  contentType?: string;
  timestampSec?: number;
  /** Sent instead of the computed signature, to exercise rejection. */
  signature?: string;
}

export async function postToBolt(
  url: string,
  signingSecret: string,
  rawBody: string,
  opts: PostToBoltOptions = {},
): Promise<{ status: number; body: string; ms: number }> {
  const signed = signSlackRequest(signingSecret, rawBody, opts.timestampSec);
  // Bolt compares content-type with === 'application/x-www-form-urlencoded'; any '; charset=…' suffix makes it
  // JSON.parse a form body, so the exact bare value matters.
  const contentType =
    opts.contentType ??
    (rawBody.trimStart().startsWith('{') ? 'application/json' : 'application/x-www-form-urlencoded');
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-slack-request-timestamp': signed['x-slack-request-timestamp'],
      'x-slack-signature': opts.signature ?? signed['x-slack-signature'],
    },
    body: rawBody,
  });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}

function fakeTriggerId(): string {
  return `${Math.floor(Date.now() / 1000)}.${FAKE_TEAM_ID.slice(1)}.${randomBytes(16).toString('hex')}`;
}
