/**
 * How the demo's simulated cloud lays out its queues, as oslo.messaging would under one of two configurations
 * (../shared/RUNBOOK.md section 4):
 * - `classic`: oslo's historical defaults. Non-durable control exchanges, classic queues, fanout and reply queues
 *   named with a uuid4 (`<topic>_fanout_<hex>`, `reply_<hex>`) that expire after 30 min unused.
 * - `kolla`: what kolla-ansible and openstack-ansible configure since 2024.1 (`rabbit_quorum_queue`,
 *   `rabbit_transient_quorum_queue`, `use_queue_manager`, `rabbit_stream_fanout`). Durable control exchanges,
 *   quorum RPC queues `<topic>` and `<topic>.<host>`, one stream `<topic>_fanout` per topic (`x-max-age`) shared by
 *   the topic's servers, and reply queues that are transient quorum queues (`x-expires`) named by the queue manager
 *   `reply_<host>:<process>:<n>`: its counter starts again with each process, so a restarted server takes the same
 *   names again.
 * Pure: names and declare options only. The RPC server processes and the simulator declare them.
 */
import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import type { RabbitmqSeries } from '../devstack/index.js';

export const OSLO_LAYOUTS = ['classic', 'kolla'] as const;
export type OsloLayout = (typeof OSLO_LAYOUTS)[number];

/** `rabbit_transient_queues_ttl`'s default, 1800 s: the x-expires of fanout and reply queues, the streams' max age. */
export const TRANSIENT_QUEUES_TTL_S = 1_800;

/** The layout a fresh deployment on that RabbitMQ would have: kolla on 4.0, where mirroring is gone; else classic. */
export function defaultLayout(series: RabbitmqSeries): OsloLayout {
  return series === '4.0' ? 'kolla' : 'classic';
}

export function isOsloLayout(value: string): value is OsloLayout {
  return (OSLO_LAYOUTS as readonly string[]).includes(value);
}

/** The control exchanges (`nova`, `neutron`, `openstack`) and `<topic>_fanout`: durable in quorum mode. */
export function exchangesDurable(layout: OsloLayout): boolean {
  return layout === 'kolla';
}

/** oslo's queue manager: `<host>:<process>:<n>`, n counting from 1 in each process (a restart starts over). */
export class QueueManager {
  private counter = 0;

  constructor(
    private readonly host: string,
    private readonly process: string,
  ) {}

  next(): string {
    this.counter++;
    return `${this.host}:${this.process}:${this.counter}`;
  }
}

/** A queue's name and how it is declared. */
export interface QueueLayout {
  name: string;
  options: Options.AssertQueue;
  /** A stream: consumed with a prefetch and an `x-stream-offset`, not declared by each server separately. */
  stream?: boolean;
}

const transient = (name: string): QueueLayout => ({
  name,
  options: { durable: false, autoDelete: false, arguments: { 'x-expires': TRANSIENT_QUEUES_TTL_S * 1_000 } },
});

const transientQuorum = (name: string): QueueLayout => ({
  name,
  options: {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-expires': TRANSIENT_QUEUES_TTL_S * 1_000 },
  },
});

/** The shared `<topic>` queue and a server's `<topic>.<host>`. */
export function rpcQueue(layout: OsloLayout, name: string): QueueLayout {
  // The classic simulator has always given them oslo's transient expiry; quorum RPC queues have none.
  return layout === 'kolla'
    ? { name, options: { durable: true, arguments: { 'x-queue-type': 'quorum' } } }
    : transient(name);
}

/** A notification listener's `notifications.<priority>` queue: a quorum queue in quorum mode, as oslo declares it. */
export function notificationQueue(layout: OsloLayout, name: string): QueueLayout {
  return layout === 'kolla' ? rpcQueue(layout, name) : { name, options: { durable: false } };
}

/** The fanout queue of one server of `topic`: its own in classic, the topic's stream in kolla. */
export function fanoutQueue(layout: OsloLayout, topic: string): QueueLayout {
  if (layout === 'classic') return transient(`${topic}_fanout_${randomUUID().replace(/-/g, '')}`);
  return {
    name: `${topic}_fanout`,
    options: { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': `${TRANSIENT_QUEUES_TTL_S}s` } },
    stream: true,
  };
}

/** An RPC client's reply queue: `reply_<hex>` in classic, `reply_<host>:<process>:<n>` (transient quorum) in kolla. */
export function replyQueue(layout: OsloLayout, names: QueueManager): QueueLayout {
  if (layout === 'kolla') return transientQuorum(`reply_${names.next()}`);
  const classic = transient(`reply_${randomUUID().replace(/-/g, '')}`);
  return { ...classic, options: { ...classic.options, autoDelete: true } };
}
