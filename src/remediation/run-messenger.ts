/**
 * What Slack is told about a run (the request message with its buttons, its edits, the thread of step results) goes
 * through the Slack outbox, like alerts: a change refreshes the run's message and a step result is queued as a reply
 * in its thread; the outbox makes Slack match, and the engine's sweep retries what Slack refused. This file only says
 * what a run's message shows and where its ts is kept (the run, for its links).
 */
import type { Redis } from 'ioredis';
import type { ChannelPacer } from '../chat/channel-pacer.js';
import type { ChatPort } from '../chat/chat-message.js';
import { SlackOutbox } from '../chat/slack-outbox.js';
import type { Logger } from '../logger.js';
import { renderRun } from './run-message.js';
import type { RunStore } from './run-store.js';

export { SENT_AGAIN } from '../chat/slack-outbox.js';

/** As long as a finished run is kept: a message that could not be delivered in that time has nobody to tell. */
const OUTBOX_RETENTION_S = 30 * 86_400;

export interface RunMessengerOptions {
  redis: Redis;
  store: RunStore;
  chat: ChatPort;
  pacer: ChannelPacer;
  logger: Logger;
  now: () => number;
  /** slack.apiTimeout (see SlackOutboxOptions.slackCallMs). */
  slackCallMs?: number;
  prefix?: string;
}

/** The run's side of the outbox: its message rendered from the stored run. */
export class RunMessenger {
  private readonly outbox: SlackOutbox;

  constructor(options: RunMessengerOptions) {
    const { store, now } = options;
    this.outbox = new SlackOutbox({
      redis: options.redis,
      chat: options.chat,
      pacer: options.pacer,
      logger: options.logger,
      now,
      prefix: options.prefix ?? 'warren:remediation:outbox',
      kind: 'run',
      retentionS: OUTBOX_RETENTION_S,
      ...(options.slackCallMs !== undefined ? { slackCallMs: options.slackCallMs } : {}),
      source: {
        async view(id) {
          const run = await store.get(id);
          if (!run) return undefined;
          return {
            channel: run.message?.channel ?? run.channel,
            message: renderRun(run, now()),
            ...(run.message ? { ts: run.message.ts } : {}),
          };
        },
        posted: (id, posted) => store.setMessage(id, posted),
      },
    });
  }

  /** Runs with something not yet in Slack. */
  pending(): Promise<string[]> {
    return this.outbox.pending();
  }

  /** The run's message must show its stored state (posted first if it never was); true once Slack has it all. */
  refresh(id: string): Promise<boolean> {
    return this.outbox.refresh(id);
  }

  /** Queues a reply in the run's thread, after every reply queued before it; true once Slack has it all. */
  reply(id: string, text: string): Promise<boolean> {
    return this.outbox.reply(id, text);
  }

  /** Retries every run with pending work; the engine's sweep calls it. */
  deliverPending(): Promise<void> {
    return this.outbox.deliverPending();
  }
}
