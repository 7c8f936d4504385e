/**
 * The chat abstraction every feature talks to. Commands, alerts and workflows produce `ChatMessage`s (Block Kit
 * plus a plain-text fallback) and send them through a `ChatPort`; they never know whether Slack or the console
 * front end is on the other side.
 */
import type { KnownBlock } from '@slack/types';

export interface ChatMessage {
  /** Plain-text fallback: notifications, screen readers and the console use it when blocks cannot be shown. */
  text: string;
  blocks?: KnownBlock[];
}

export type Visibility = 'ephemeral' | 'in_channel';

export interface ChatReply extends ChatMessage {
  visibility: Visibility;
}

/** An answer only the person who asked sees. */
export function ephemeral(text: string, blocks?: KnownBlock[]): ChatReply {
  return blocks ? { visibility: 'ephemeral', text, blocks } : { visibility: 'ephemeral', text };
}

/** An answer only the asker sees, its text also as one mrkdwn section (which Slack shows without the fallback). */
export function ephemeralSection(text: string): ChatReply {
  return ephemeral(text, [{ type: 'section', text: { type: 'mrkdwn', text } }]);
}

export interface PostedMessage {
  channel: string;
  ts: string;
}

/** Outbound side of a front end: what alerts and workflows use to talk to a channel. */
export interface ChatPort {
  post(channel: string, message: ChatMessage, options?: { threadTs?: string }): Promise<PostedMessage>;
  update(channel: string, ts: string, message: ChatMessage): Promise<void>;
}

/** One slash command as a front end received it, already acknowledged. */
export interface Invocation {
  userId: string;
  channelId: string;
  /** Configured user-group ids (S…) the user belongs to, when the front end can tell. */
  groups?: readonly string[];
  /** Everything after the slash command itself, e.g. `status prod`. */
  text: string;
  respond(reply: ChatReply): Promise<void>;
}

/** One button click as a front end received it, already acknowledged. `value` is untrusted input. */
export interface ActionInvocation {
  actionId: string;
  value: string;
  userId: string;
  channelId: string;
  groups?: readonly string[];
  /** The message that carried the button, when the front end knows it. */
  messageTs?: string;
  /** Answers the clicker only (ephemeral). */
  respond(reply: ChatReply): Promise<void>;
}
