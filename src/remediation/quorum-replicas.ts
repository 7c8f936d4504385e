/**
 * Changing a quorum queue's membership through the management API: RabbitMQ 4.0 serves
 * `POST /api/queues/quorum/{vhost}/{name}/replicas/add` and `DELETE …/replicas/delete` (body `{"node": …}`), the
 * HTTP form of `rabbitmq-queues add_member` and `delete_member`, for a user tagged administrator. No queue name ever
 * goes onto a command line (queue-manager names hold `:`, and a remote node-control command is a shell string).
 * A broker without these endpoints (3.10 answers 404) or with them disabled
 * (`management.restrictions.quorum_queue_replica_operations.disabled`, 405) gets an error that says what to run
 * by hand. Also the fresh node list the grow and shrink guards re-read. Idempotence is the callers': they re-read
 * the queue first.
 */

import { z } from 'zod';
import { nameInVhost } from '../chat/vhost-text.js';
import { ManagementApiError } from '../errors.js';
import type { ManagementClient } from '../management/management-client.js';
import { nodeSchema } from '../management/schemas.js';
import { freshQueue } from './broker-state.js';
import { pollUntil } from './poll.js';

export interface ListedNode {
  name: string;
  running: boolean;
}

const nodes = z.array(nodeSchema);

/** The cluster's nodes as /api/nodes lists them now. */
export async function freshNodes(management: ManagementClient): Promise<ListedNode[]> {
  const listed = await management.get('/api/nodes', nodes, { columns: 'name,running' });
  return listed.map((n) => ({ name: n.name, running: n.running !== false }));
}

function replicasPath(vhost: string, name: string, verb: 'add' | 'delete'): string {
  return `/api/queues/quorum/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}/replicas/${verb}`;
}

/**
 * How long a membership change is tried again while Ra answers `cluster_change_not_permitted` (HTTP 503): a leader
 * refuses changes until it has committed an entry of its own term, which it does within seconds of its election
 * (seen on 4.0 right after a stopped cluster started again), and while another change is still under way.
 */
export const CHANGE_NOT_PERMITTED_RETRY_MS = 20_000;
const RETRY_PAUSE_MS = 500;

const notPermittedYet = (error: unknown) =>
  error instanceof ManagementApiError && error.status === 503 && /cluster_change_not_permitted/.test(error.message);

async function change(
  management: ManagementClient,
  method: 'POST' | 'DELETE',
  vhost: string,
  name: string,
  node: string,
  retryMs = CHANGE_NOT_PERMITTED_RETRY_MS,
): Promise<void> {
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      return await changeOnce(management, method, vhost, name, node);
    } catch (error) {
      if (!notPermittedYet(error) || Date.now() + RETRY_PAUSE_MS > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
}

async function changeOnce(
  management: ManagementClient,
  method: 'POST' | 'DELETE',
  vhost: string,
  name: string,
  node: string,
): Promise<void> {
  const verb = method === 'POST' ? 'add' : 'delete';
  const byHand = `rabbitmq-queues ${verb === 'add' ? 'add_member' : 'delete_member'} --vhost ${vhost} ${name} ${node}`;
  try {
    const { status } = await management.send(method, replicasPath(vhost, name, verb), { data: { node } });
    if (status === 404) {
      throw new ManagementApiError(
        replicasPath(vhost, name, verb),
        404,
        `the broker has no quorum replica endpoint (RabbitMQ before 4.0), or the queue is gone: run \`${byHand}\` by hand`,
      );
    }
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 405) {
      throw new ManagementApiError(
        replicasPath(vhost, name, verb),
        405,
        `the broker disallows quorum replica operations over HTTP: run \`${byHand}\` by hand`,
      );
    }
    throw error;
  }
}

/**
 * The members of a quorum queue, freshly read: `[]` when the queue is gone, `undefined` when it is listed without
 * them. A quorum queue with no leader yet (just after a restart, or an election under way) is listed so; that does
 * not mean it has no member anywhere, so this asks again for up to `waitMs` before saying it does not know.
 */
async function listedMembers(
  management: ManagementClient,
  vhost: string,
  name: string,
  waitMs = CHANGE_NOT_PERMITTED_RETRY_MS,
): Promise<string[] | undefined> {
  return pollUntil(
    async () => {
      const queue = await freshQueue(management, vhost, name);
      if (!queue) return [];
      return queue.members && queue.members.length > 0 ? queue.members : undefined;
    },
    waitMs,
    RETRY_PAUSE_MS,
  );
}

/**
 * A reader of `listedMembers` for one batch of queues: all its reads share one wait of CHANGE_NOT_PERMITTED_RETRY_MS,
 * however many of the batch's queues are between leaders. The queues it could not read are named by `unlisted()`.
 */
export function batchMembers(management: ManagementClient): {
  read(vhost: string, name: string): Promise<string[] | undefined>;
  unlisted(): string[];
} {
  const deadline = Date.now() + CHANGE_NOT_PERMITTED_RETRY_MS;
  const unlisted: string[] = [];
  return {
    async read(vhost, name) {
      const members = await listedMembers(management, vhost, name, deadline - Date.now());
      if (!members) unlisted.push(`\`${name}\``);
      return members;
    },
    unlisted: () => unlisted,
  };
}

/** What a step says of the queues `batchMembers` could not read, left for its verify. */
export function unlistedNote(unlisted: readonly string[]): string {
  return unlisted.length ? `; members not listed (no leader yet?), left for verify: ${unlisted.join(', ')}` : '';
}

/** Adds a member of the quorum queue on `node` (the broker waits for it to join, up to 30 s). */
export function addQuorumMember(
  management: ManagementClient,
  vhost: string,
  name: string,
  node: string,
): Promise<void> {
  return change(management, 'POST', vhost, name, node);
}

/** Removes the quorum queue's member on `node`. */
export function deleteQuorumMember(
  management: ManagementClient,
  vhost: string,
  name: string,
  node: string,
): Promise<void> {
  return change(management, 'DELETE', vhost, name, node);
}

/**
 * How long a removed member must stay out of the queue's listing before the removal counts as held. On RabbitMQ
 * 4.0 the queue record, which the listing shows and the broker's delete_member consults, is rewritten from Raft by
 * the leader on its tick (every 5 s); after an offline forget and a restart the two disagree for a while, and a
 * delete_member that finds the node missing from the record answers 2xx without touching Raft. The member then
 * comes back at the next tick. Seen on 4.0.5 in warren's own forget-node test.
 */
const HOLD_MS = 6_000;
/** How long a removal that keeps coming back is repeated before the step leaves it to verify. */
const HOLD_LIMIT_MS = 60_000;
const HOLD_POLL_MS = 1_000;

/**
 * Watches `queues` until none has listed a member on `node` for HOLD_MS, removing it again whenever it shows up:
 * how many removals were repeated, and the queues still listing the member when the limit came.
 */
export async function holdRemoval(
  management: ManagementClient,
  node: string,
  queues: readonly { vhost: string; name: string }[],
): Promise<{ repeated: number; left: string[] }> {
  const deadline = Date.now() + HOLD_LIMIT_MS;
  let quietSince = Date.now();
  let repeated = 0;
  for (;;) {
    const back = [];
    for (const queue of queues) {
      if ((await freshQueue(management, queue.vhost, queue.name))?.members?.includes(node)) back.push(queue);
    }
    if (back.length === 0) {
      if (Date.now() - quietSince >= HOLD_MS) return { repeated, left: [] };
    } else {
      if (Date.now() > deadline) return { repeated, left: back.map((q) => q.name) };
      for (const queue of back) {
        await deleteQuorumMember(management, queue.vhost, queue.name, node);
        repeated++;
      }
      quietSince = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
  }
}

/** One step of a membership workflow: a batch of queues whose member on `node` is added or removed. */
export interface MemberBatch extends Record<string, unknown> {
  node: string;
  queues: { vhost: string; name: string }[];
}

/** Queues per step: the node is re-checked between batches, and a batch's new members catch up together. */
export const MEMBER_BATCH = 10;

/** The planned steps over `queues`, `MEMBER_BATCH` at a time; `label` says what a step does to the queues it names. */
export function memberBatches(
  node: string,
  queues: readonly { vhost: string; name: string }[],
  label: (names: string) => string,
): { key: string; label: string; data: MemberBatch; vhosts: string[] }[] {
  const actions = [];
  for (let i = 0; i < queues.length; i += MEMBER_BATCH) {
    const part = queues.slice(i, i + MEMBER_BATCH);
    actions.push({
      key: `batch-${i / MEMBER_BATCH + 1}`,
      label: label(part.map((q) => nameInVhost(q.name, q.vhost)).join(', ')),
      data: { node, queues: part.map((q) => ({ vhost: q.vhost, name: q.name })) },
      vhosts: [...new Set(part.map((q) => q.vhost))],
    });
  }
  return actions;
}
