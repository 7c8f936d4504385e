/**
 * Zombie fanout queues on the test stack, as the `delete-zombie-queues` workflow finds them in production: two oslo
 * RPC servers of one topic, one killed with SIGKILL, then casts that only the survivor reads. The servers are child
 * processes the caller kills when done.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChannelModel } from 'amqplib';
import { startRpcServer } from '../../src/demo/rpc-server.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import { waitUntil } from './wait-until.js';

export interface Zombie {
  topic: string;
  /** The dead server's fanout queue: 20 messages, no consumer. */
  zombie: string;
  /** The live server's fanout queue of the same topic. */
  sibling: string;
}

export async function makeZombie(options: {
  amqpUrl: string;
  amqp: ChannelModel;
  management: ManagementClient;
  topic: string;
  /** Collects the servers' processes, for the caller to kill. */
  servers: ChildProcess[];
}): Promise<Zombie> {
  const { amqpUrl, amqp, management, topic, servers } = options;
  const start = async () => {
    const server = await startRpcServer(amqpUrl, topic, { layout: 'fanout-only' });
    servers.push(server.child);
    return server;
  };
  const crashed = await start();
  const sibling = await start();
  // Every user can read a command line: the stand-in servers take their URL, password and all, from the environment.
  const password = new URL(amqpUrl).password;
  for (const child of [crashed.child, sibling.child]) {
    const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
    if (password && cmdline.includes(password))
      throw new Error('an rpc server has the broker password on its command line');
  }
  crashed.child.kill('SIGKILL');
  const channel = await amqp.createConfirmChannel();
  for (let i = 0; i < 20; i++) channel.publish(`${topic}_fanout`, '', Buffer.from('{"oslo.message":"{}"}'));
  await channel.waitForConfirms();
  await channel.close();
  // The broker must have noticed the dead connection and counted the casts before a plan can see the zombie.
  let seen = 'not listed';
  await waitUntil(
    async () => {
      const q = await freshQueue(management, '/', crashed.queue);
      seen = q ? `messages ${q.messages ?? 'not counted'}, consumers ${q.consumers ?? 'not counted'}` : 'not listed';
      return q !== undefined && q.consumers === 0 && q.messages === 20;
    },
    () => `the zombie queue ${crashed.queue} to show 20 messages and no consumer (last seen: ${seen})`,
    30_000,
  );
  return { topic, zombie: crashed.queue, sibling: sibling.queue };
}

/**
 * Deletes both queues of each zombie made by a file. Runs that stop or abandon halfway leave some on purpose, and
 * left on the shared cluster they would keep later files' alerts (the master imbalance among them) from resolving.
 */
export async function deleteZombies(amqp: ChannelModel | undefined, zombies: readonly Zombie[]): Promise<void> {
  if (!amqp || zombies.length === 0) return;
  const channel = await amqp.createChannel();
  for (const z of zombies) {
    for (const queue of [z.zombie, z.sibling]) await channel.deleteQueue(queue).catch(() => undefined);
  }
  await channel.close().catch(() => undefined);
}
