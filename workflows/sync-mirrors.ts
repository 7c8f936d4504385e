/**
 * `fix sync-mirrors [queue-glob]` (runbook 1.5): synchronises the classic mirrored queues that the mirror-sync
 * check reports: a mirror that joined after messages were published holds only the newer ones, so losing the master
 * loses the older ones. A sync BLOCKS its queue while it runs (publishers and consumers of that queue stall until
 * every message is copied), so queues go one per step, and each step waits for its queue's sync before the next
 * starts: one blocked queue at a time. Before each step the queue is re-read: still there, still holding messages,
 * a mirror still unsynchronised. Risk medium: nothing is lost, but each queue is unavailable while it syncs.
 */

import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { inVhost } from '../src/chat/vhost-text.js';
import { formatDuration } from '../src/config/duration.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { mirrorSyncCheck } from '../src/health/checks/mirror-sync.js';
import { queueKey } from '../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import {
  classicMirroringReplacement,
  clusterBrokerVersion,
  hasClassicMirroring,
  notApplicableOn,
} from '../src/management/broker-version.js';
import type { ManagementQueue } from '../src/management/schemas.js';
import { freshQueue, queuePath } from '../src/remediation/broker-state.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, type PlannedAction } from '../src/remediation/workflow-definition.js';
import { globMatch } from '../src/tap/glob.js';

interface Args {
  pattern?: string;
}

/** What the mirror-sync check puts in a queue finding's `data`, and what each step carries. */
interface MirrorData {
  vhost: string;
  name: string;
  node: string | null;
  messages: number;
  synchronised: string[];
  unsynchronised: string[];
}

/** How long one step waits for its queue's sync, and the verification for all of them. */
const SYNC_WAIT_MS = 30_000;

const data = (action: PlannedAction) => action.data as unknown as MirrorData;
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

function unsynchronised(queue: ManagementQueue): string[] {
  const synced = queue.synchronised_slave_nodes ?? [];
  return (queue.slave_nodes ?? []).filter((m) => !synced.includes(m)).sort();
}

export const syncMirrorsWorkflow = defineWorkflow<Args>({
  name: 'sync-mirrors',
  description: 'Synchronise classic mirrored queues whose mirrors miss messages (each queue blocks while it syncs)',
  risk: 'medium',
  usage: '[queue-name-glob]',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, 'at most one queue name pattern (a glob such as billing.*)'),
      flags: z.strictObject({}, { error: 'sync-mirrors takes no flags' }),
    })
    .transform(({ positionals }) => ({ pattern: positionals[0] })),
  args: z.object({ pattern: z.string().optional() }),
  argsForAlert: () => ({}),

  async plan(context, args) {
    // The fetcher re-reads mirrored queues holding messages with stats: the cheap listing's mirror fields lag.
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    // RabbitMQ 4.0 removed classic mirroring: refuse with what replaces it rather than "nothing to sync".
    const version = clusterBrokerVersion((snapshot.nodes ?? []).filter((n) => n.running));
    if (version && !hasClassicMirroring(version)) {
      throw new WorkflowRefusedError(
        `sync-mirrors is ${notApplicableOn(version)}: there are no mirrors to sync. ${classicMirroringReplacement(version)}`,
      );
    }
    if (!snapshot.queues) throw new WorkflowRefusedError(`Could not list the queues: ${snapshot.errors.queues}`);
    const findings = mirrorSyncCheck.evaluate(snapshot, { thresholds: context.health.thresholds, history: new Map() });
    const queues = findings
      // Node findings (stopping a node would lose the last synchronised copy) name no queue: nothing to sync there.
      .flatMap((f) => (typeof f.data?.name === 'string' ? [f.data as unknown as MirrorData] : []))
      .filter((q) => !args.pattern || globMatch(args.pattern, q.name))
      // Queues whose only complete copy is the master's first, then the most messages at risk.
      .sort((a, b) => a.synchronised.length - b.synchronised.length || b.messages - a.messages);
    if (queues.length === 0) {
      throw new WorkflowRefusedError(
        `No classic mirrored queue on \`${context.cluster}\`${args.pattern ? ` matching \`${args.pattern}\`` : ''} has an unsynchronised mirror and messages: nothing to sync.`,
      );
    }
    const chosen = queues.slice(0, context.remediation.maxItemsPerRun);
    const messages = chosen.reduce((n, q) => n + q.messages, 0);
    const largest = chosen.reduce((a, b) => (b.messages > a.messages ? b : a));
    return {
      summary: `sync ${formatCount(chosen.length)} mirrored queue(s) holding ${formatCount(messages)} message(s), one at a time; each queue is BLOCKED while it syncs`,
      warnings: [
        `A sync BLOCKS its queue until every message is copied to the new mirrors: publishers and consumers of that queue stall meanwhile. ${formatCount(messages)} message(s) to copy in all; the largest queue is \`${largest.name}\`${inVhost(largest.vhost)} with ${formatCount(largest.messages)}.`,
        `Queues are synced one at a time, each step waiting up to ${formatDuration(SYNC_WAIT_MS)} for its sync before the next starts. Pick a quiet moment; a larger \`ha-sync-batch-size\` in the queue's policy syncs faster.`,
      ],
      actions: chosen.map((q) => ({
        key: queueKey(q),
        vhosts: [q.vhost],
        label: `sync \`${q.name}\`${inVhost(q.vhost)}: ${formatCount(q.messages)} message(s) to ${code(q.unsynchronised)} (the queue is blocked while it syncs)`,
        data: {
          vhost: q.vhost,
          name: q.name,
          node: q.node,
          messages: q.messages,
          synchronised: q.synchronised,
          unsynchronised: q.unsynchronised,
        },
      })),
      guards: ['the queue still exists and one of its mirrors is still not synchronised (else it is skipped)'],
      ...(queues.length > chosen.length ? { leftOut: queues.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const { vhost, name } = data(action);
    const queue = await freshQueue(context.management, vhost, name);
    if (!queue) return { reason: 'already gone', abort: false };
    // Not judged on `messages`: a queue's own GET omits it until its first stats emission (seconds after it is
    // declared), and the schema reads the gap as 0. Syncing a queue that did empty meanwhile costs nothing.
    if (unsynchronised(queue).length === 0) return { reason: 'already synchronised', abort: false };
    return undefined;
  },

  async execute(context, action) {
    const { vhost, name, messages } = data(action);
    const before = await freshQueue(context.management, vhost, name);
    if (!before) return 'already gone';
    const missing = unsynchronised(before);
    if (missing.length === 0) return 'already synchronised';
    const started = Date.now();
    const { status } = await context.management.send('POST', `${queuePath(vhost, name)}/actions`, {
      data: { action: 'sync' },
      // This endpoint answers no body and offers no JSON: 3.10 refuses `accept: application/json` with 406.
      headers: { accept: '*/*' },
    });
    if (status === 404) return 'already gone';
    // The broker runs the sync in the background: wait for it here, so that only one queue is blocked at a time.
    const outcome = await pollUntil(async () => {
      const queue = await freshQueue(context.management, vhost, name);
      if (!queue) return 'gone';
      return unsynchronised(queue).length === 0 ? 'synced' : undefined;
    }, SYNC_WAIT_MS);
    // The planned count when the fresh read has no message stats yet (see the guard).
    const what = `${formatCount(before.messages > 0 ? before.messages : messages)} message(s) to ${code(missing)}`;
    if (outcome === 'gone') return `sync of ${what} started; the queue was deleted meanwhile`;
    if (outcome === 'synced') {
      return `synchronised ${what} in ${formatDuration(Math.max(1, Math.round((Date.now() - started) / 1000)) * 1000)}`;
    }
    return `sync of ${what} started; still running after ${formatDuration(SYNC_WAIT_MS)} (the verification waits again)`;
  },

  async verify(context, done) {
    let gone: string[] = [];
    let pending: Array<{ name: string; missing: string[] }> = [];
    const settled = await pollUntil(async () => {
      gone = [];
      pending = [];
      for (const action of done) {
        const { vhost, name } = data(action);
        const queue = await freshQueue(context.management, vhost, name);
        if (!queue) gone.push(name);
        else if (unsynchronised(queue).length > 0) pending.push({ name, missing: unsynchronised(queue) });
      }
      return pending.length === 0 ? true : undefined;
    }, SYNC_WAIT_MS);
    const goneText = gone.length > 0 ? `; deleted meanwhile: ${code(gone)}` : '';
    if (settled) {
      const synced = done.length - gone.length;
      return { ok: true, detail: `every mirror of ${formatCount(synced)} queue(s) is synchronised${goneText}` };
    }
    return {
      ok: false,
      detail: `still not synchronised after ${formatDuration(SYNC_WAIT_MS)}: ${pending.map((p) => `\`${p.name}\` (${code(p.missing)})`).join(', ')}${goneText}`,
    };
  },
});
