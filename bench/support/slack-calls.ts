/** Reading the fake Slack's record of warren's calls, as the benches that run warren whole do. */
import type { RecordedCall } from '../../test/support/fake-slack.js';

/** A message warren posted (not a thread reply) to `channel`, which Slack accepted. */
export const isTopLevelPost = (c: RecordedCall, channel: string) =>
  c.method === 'chat.postMessage' &&
  c.params.channel === channel &&
  c.params.thread_ts === undefined &&
  c.status === 200;
