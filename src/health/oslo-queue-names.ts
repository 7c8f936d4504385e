/**
 * The queue names oslo.messaging declares (runbook 1.2, 1.3 and 2), so checks can tell an RPC server's fanout queue,
 * an RPC client's reply queue and a notification queue from any other queue, and name the OpenStack topic:
 * - fanout: `<topic>_fanout_<uuid4 hex>`, or `<topic>_fanout_<host>:<process>:<N>` when oslo.messaging ≥ 14.7 runs
 *   with `use_queue_manager`;
 * - stream fanout: `<topic>_fanout`, the one stream per topic that `rabbit_stream_fanout` declares and every server
 *   of the topic reads with its own offset. It has no per-server siblings, so it is a kind of its own: a check
 *   that looks for `_fanout_<id>` siblings must not take it for one (the name alone says "stream fanout"; the
 *   checks confirm by the queue's type);
 * - reply: `reply_<uuid4 hex>`, or `reply_<host>:<process>:<N>` with the queue manager;
 * - notifications: `notifications.<priority>` and `versioned_notifications.<priority>` (the notifier's routing key).
 * Names only: whether a queue is a zombie or a backlog is the checks' call. Called once per queue on clusters with
 * tens of thousands of them, so the patterns are compiled once and most names are turned away by a substring test.
 */

export type OsloQueueName =
  | {
      kind: 'fanout';
      topic: string;
      /** Host and process of the queue manager's names; absent in the uuid form. */
      host?: string;
      process?: string;
    }
  | { kind: 'stream-fanout'; topic: string }
  | { kind: 'reply'; host?: string; process?: string }
  | { kind: 'notifications'; topic: 'notifications' | 'versioned_notifications'; priority: string };

const FANOUT_UUID = /^(.+)_fanout_[0-9a-f]{32}$/;
const FANOUT_MANAGED = /^(.+)_fanout_([^:]+):([^:]+):\d+$/;
const STREAM_FANOUT_SUFFIX = '_fanout';
const REPLY_UUID = /^reply_[0-9a-f]{32}$/;
const REPLY_MANAGED = /^reply_([^:]+):([^:]+):\d+$/;
// oslo's priorities (AUDIT DEBUG INFO WARN ERROR CRITICAL SAMPLE), lowercased into the routing key.
const NOTIFICATION = /^(notifications|versioned_notifications)\.(audit|debug|info|warn|error|critical|sample)$/;

export function parseOsloQueueName(name: string): OsloQueueName | undefined {
  if (name.startsWith('reply_')) {
    if (REPLY_UUID.test(name)) return { kind: 'reply' };
    const managed = REPLY_MANAGED.exec(name);
    return managed ? { kind: 'reply', host: managed[1], process: managed[2] } : undefined;
  }
  if (name.includes('_fanout_')) {
    const uuid = FANOUT_UUID.exec(name);
    if (uuid) return { kind: 'fanout', topic: uuid[1] as string };
    const managed = FANOUT_MANAGED.exec(name);
    if (managed) return { kind: 'fanout', topic: managed[1] as string, host: managed[2], process: managed[3] };
    return undefined;
  }
  if (name.endsWith(STREAM_FANOUT_SUFFIX) && name.length > STREAM_FANOUT_SUFFIX.length) {
    return { kind: 'stream-fanout', topic: name.slice(0, -STREAM_FANOUT_SUFFIX.length) };
  }
  if (name.includes('notifications.')) {
    const notification = NOTIFICATION.exec(name);
    if (notification) {
      return {
        kind: 'notifications',
        topic: notification[1] as 'notifications' | 'versioned_notifications',
        priority: notification[2] as string,
      };
    }
  }
  return undefined;
}

/**
 * The OpenStack topic of a fanout queue (`compute` for `compute_fanout_…`) or stream fanout (`compute_fanout`), or
 * undefined for any other queue.
 */
export function fanoutTopic(name: string): string | undefined {
  const parsed = parseOsloQueueName(name);
  return parsed?.kind === 'fanout' || parsed?.kind === 'stream-fanout' ? parsed.topic : undefined;
}
