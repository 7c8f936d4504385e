/** An in-memory ChatPort for tests that exercise RabbitMQ and Redis but need no Slack: it records what was sent. */
import type { ChatPort } from '../../src/chat/chat-message.js';

export interface RecordedPost {
  channel: string;
  text: string;
  thread?: string;
  /** Which chat port sent it, when several share one log (replicas). */
  source: string;
}

export interface RecordingLog {
  posts: RecordedPost[];
  updates: string[];
}

export function recordingChat(
  log: RecordingLog = { posts: [], updates: [] },
  source = 'chat',
): ChatPort & RecordingLog {
  return {
    posts: log.posts,
    updates: log.updates,
    post: async (channel, message, options) => {
      log.posts.push({ channel, text: message.text, thread: options?.threadTs, source });
      return { channel, ts: `${source}.${log.posts.length}` };
    },
    update: async (_channel, _ts, message) => {
      log.updates.push(message.text);
    },
  };
}
