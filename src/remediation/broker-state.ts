/**
 * Fresh reads of single broker objects for workflows' plans, guards and verifications. Each asks the management
 * API with stats (the per-object GET is cheap, and the cheap listing's mirror fields lag), and answers undefined
 * for an object that is gone, since "already gone" is an outcome an idempotent step must recognise.
 */
import { z } from 'zod';
import { ManagementApiError } from '../errors.js';
import { khepriFlag } from '../management/broker-version.js';
import type { ManagementClient } from '../management/management-client.js';
import {
  connectionSchema,
  featureFlagSchema,
  type ManagementConnection,
  type ManagementQueue,
  queueSchema,
} from '../management/schemas.js';

export function queuePath(vhost: string, name: string): string {
  return `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;
}

export function connectionPath(name: string): string {
  return `/api/connections/${encodeURIComponent(name)}`;
}

async function orGone<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
}

const consumerQueues = z.array(z.looseObject({ queue: z.looseObject({ name: z.string(), vhost: z.string() }) }));

export function freshQueue(
  management: ManagementClient,
  vhost: string,
  name: string,
): Promise<ManagementQueue | undefined> {
  return orGone(() => management.get(queuePath(vhost, name), queueSchema));
}

/**
 * How many consumers a freshly read queue has. One whose stats are not in (its node just started, or is down) comes
 * without `consumers`, which is not zero: the consumer table answers for it, so that no guard takes a consumed
 * queue for an idle one.
 */
export async function consumerCount(management: ManagementClient, queue: ManagementQueue): Promise<number> {
  return queue.consumers ?? (await consumersOf(management, queue.vhost, queue.name));
}

async function consumersOf(management: ManagementClient, vhost: string, queue: string): Promise<number> {
  return (await consumerTable(management, vhost)).filter((name) => name === queue).length;
}

/** The queue of each consumer of `vhost`, one entry per consumer, from the channels' consumer table. */
async function consumerTable(management: ManagementClient, vhost: string): Promise<string[]> {
  const consumers = await management.get(`/api/consumers/${encodeURIComponent(vhost)}`, consumerQueues, {
    columns: 'queue.name,queue.vhost',
  });
  return consumers.map((c) => c.queue.name);
}

export function freshConnection(management: ManagementClient, name: string): Promise<ManagementConnection | undefined> {
  return orGone(() => management.get(connectionPath(name), connectionSchema));
}

/** Names of the queues of `vhost` that have at least one consumer now. */
export async function consumedQueues(management: ManagementClient, vhost: string): Promise<Set<string>> {
  return new Set(await consumerTable(management, vhost));
}

/**
 * RabbitMQ's `idle_since` ("2026-12-01 21:00:00", UTC, no zone; newer brokers send ISO 8601) as epoch ms, or
 * undefined when the queue is not idle or the text is not a time.
 */
export function idleSinceMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The `khepri_db` feature flag's state, read fresh: 'enabled' or 'disabled', or undefined when the broker lists no
 * such flag (before 3.13) or the listing failed (the caller then judges by version).
 */
export async function khepriFlagState(management: ManagementClient): Promise<'enabled' | 'disabled' | undefined> {
  return khepriFlag(await management.get('/api/feature-flags', z.array(featureFlagSchema)).catch(() => undefined));
}
