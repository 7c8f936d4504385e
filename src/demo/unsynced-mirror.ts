/**
 * A classic mirrored queue with an unsynchronised mirror (runbook 1.5), made the way it happens in production: a
 * policy change adds a mirror to a queue that already holds messages, under `ha-sync-mode: manual`. Used by the
 * demo's `unsynced-mirror` fault and by the integration tests.
 */

import { randomUUID } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import type { LocalStack, LocalStackDescription } from '../devstack/index.js';
import { DemoError } from '../errors.js';

export interface UnsyncedMirror {
  queue: string;
  policy: string;
  /** Deletes the queue and clears the policy. */
  remove(): Promise<void>;
}

/**
 * A durable queue `<prefix>.<id>` mirrored on the first two nodes under `ha-sync-mode: manual`, holding 10
 * messages, and then a third mirror added by a policy change: that mirror receives only new messages and stays
 * unsynchronised until an explicit sync.
 */
export async function unsyncedMirror(
  desc: LocalStackDescription,
  stack: LocalStack,
  amqp: ChannelModel,
  prefix: string,
): Promise<UnsyncedMirror> {
  const id = randomUUID().slice(0, 8);
  const queue = `${prefix}.${id}`;
  const policy = `${prefix}-ha-${id}`.replace(/\./g, '-');
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const setPolicy = async (nodes: string[]) => {
    const result = await stack.rabbitmqctl(node1, [
      'set_policy',
      policy,
      `^${queue.replace(/\./g, '\\.')}$`,
      JSON.stringify({ 'ha-mode': 'nodes', 'ha-params': nodes, 'ha-sync-mode': 'manual' }),
      '--apply-to',
      'queues',
    ]);
    if (result.code !== 0) throw new DemoError(`set_policy ${policy} failed: ${result.stderr || result.stdout}`);
  };
  const channel = await amqp.createConfirmChannel();
  const remove = async () => {
    await channel.deleteQueue(queue).catch(() => undefined);
    await channel.close().catch(() => undefined);
    await stack.rabbitmqctl(node1, ['clear_policy', policy]);
  };
  try {
    await setPolicy([node1, node2]);
    await channel.assertQueue(queue, { durable: true });
    for (let i = 0; i < 10; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await setPolicy([node1, node2, node3]);
  } catch (error) {
    await remove();
    throw error;
  }
  return { queue, policy, remove };
}
