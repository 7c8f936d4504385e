/**
 * Zombie fanout queues and orphaned reply queues (runbook 1.2). An RPC server that dies hard leaves its
 * `<topic>_fanout_<id>` queue bound to the `<topic>_fanout` exchange, so it keeps receiving every fanout cast with
 * nobody to read them; a dead RPC client leaves its `reply_<id>` queue the same way. One warning per queue:
 * - a fanout queue with no consumer that holds messages, when another fanout queue of the same topic (and vhost) has
 *   a consumer (a live sibling: the strongest signal) or when it never expires by itself (no `x-expires`, or one
 *   longer than `thresholds.zombieMaxExpires`); oslo's default 30 min expiry cleans up the rest without help;
 * - a reply queue with no consumer that holds messages (replies nobody will read) or never expires by itself;
 * - with oslo's queue manager (`<topic>_fanout_<host>:<process>:<n>`, `reply_<host>:<process>:<n>`), the name tells
 *   the owner, and a restarted process declares the same names again: its sibling is itself, so the live-sibling
 *   signal means nothing there. Such a queue is judged by its owner instead: while any queue of the same host and
 *   process is consumed, the process is alive (re-subscribing after a restart) and none of its queues is a zombie;
 *   when none is, the owner is gone and the queue is a zombie once it holds messages or never expires. A restart
 *   that leaves it without a consumer for a few seconds is what the alert's `for` absorbs.
 * oslo's `<topic>_fanout` stream (and any stream) is never a candidate: every server reads it with its own offset,
 * its messages are retained data, and it has no per-server siblings to look for.
 * Expiry is the effective one: the lower of `x-expires` and the `expires` of the queue's policy, when policies were
 * fetched (a user without the policymaker tag cannot list them; the argument alone is judged then).
 * Exclusive queues are left out: they die with their connection. Judges only; deleting is the
 * delete-zombie-queues workflow's, and piles of messages in these queues are not reported again as backlogs.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import { formatDuration } from '../../config/duration.js';
import type { ClusterSnapshot, PolicyInfo, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { parseOsloQueueName } from '../oslo-queue-names.js';

const ID = 'zombie-queues';

/** Where a queue's expiry comes from, for the operator: the argument oslo set, or the policy that overrides it. */
export interface QueueExpiry {
  ms: number;
  source: 'x-expires' | 'policy';
  policy?: string;
}

function numeric(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Policies by vhost and name, the pair a queue's `policy` field refers to. */
export function policyIndex(policies: readonly PolicyInfo[] | undefined): Map<string, PolicyInfo> {
  return new Map((policies ?? []).map((p) => [`${p.vhost}\u0000${p.name}`, p]));
}

export function policyOf(queue: QueueInfo, policies: ReadonlyMap<string, PolicyInfo>): PolicyInfo | undefined {
  return queue.policy ? policies.get(`${queue.vhost}\u0000${queue.policy}`) : undefined;
}

/** The queue's effective expiry: RabbitMQ applies the lower of the `x-expires` argument and the policy's `expires`. */
export function queueExpiry(queue: QueueInfo, policies: ReadonlyMap<string, PolicyInfo>): QueueExpiry | undefined {
  const argument = numeric(queue.arguments['x-expires']);
  const policy = policyOf(queue, policies);
  const fromPolicy = numeric(policy?.definition.expires);
  if (fromPolicy !== undefined && (argument === undefined || fromPolicy < argument)) {
    return { ms: fromPolicy, source: 'policy', policy: policy?.name };
  }
  return argument === undefined ? undefined : { ms: argument, source: 'x-expires' };
}

function queueName(q: QueueInfo): string {
  return nameInVhost(q.name, q.vhost);
}

function messagesText(n: number): string {
  return `${formatCount(n)} message${n === 1 ? '' : 's'}`;
}

function expiryText(expiry: QueueExpiry | undefined, maxMs: number): string {
  if (!expiry) return 'Never expires: no `x-expires` and no `expires` policy, so it lives until someone deletes it';
  const from = expiry.source === 'policy' ? `policy \`${expiry.policy}\`` : '`x-expires`';
  return expiry.ms > maxMs
    ? `Expires after ${formatDuration(expiry.ms)} idle (${from}), longer than the ${formatDuration(maxMs)} limit`
    : `Expires after ${formatDuration(expiry.ms)} idle (${from})`;
}

interface Candidate {
  queue: QueueInfo;
  kind: 'fanout' | 'reply';
  topic?: string;
  /** `<host>:<process>` of a queue-manager name. */
  owner?: string;
}

/** The owner key of a queue-manager name (host and process), per vhost. */
function ownerKey(vhost: string, host: string | undefined, process: string | undefined): string | undefined {
  return host === undefined || process === undefined ? undefined : `${vhost}\u0000${host}:${process}`;
}

function evaluate(snapshot: ClusterSnapshot, { thresholds, history }: CheckContext): Finding[] {
  const policies = policyIndex(snapshot.policies);
  // Topics (per vhost) that have a consumed fanout queue, and queue-manager owners with a consumed queue: one pass
  // to index, so lookups stay O(1).
  const liveTopics = new Set<string>();
  const liveOwners = new Set<string>();
  const candidates: Candidate[] = [];
  for (const queue of snapshot.queues ?? []) {
    if (queue.exclusive === true || queue.type === 'stream') continue;
    const oslo = parseOsloQueueName(queue.name);
    if (oslo?.kind !== 'fanout' && oslo?.kind !== 'reply') continue;
    const owner = ownerKey(queue.vhost, oslo.host, oslo.process);
    if (queue.consumers > 0) {
      if (oslo.kind === 'fanout') liveTopics.add(`${queue.vhost}\u0000${oslo.topic}`);
      if (owner !== undefined) liveOwners.add(owner);
    } else {
      candidates.push({
        queue,
        kind: oslo.kind,
        ...(oslo.kind === 'fanout' ? { topic: oslo.topic } : {}),
        ...(owner !== undefined ? { owner: `${oslo.host}:${oslo.process}` } : {}),
      });
    }
  }

  const findings: Finding[] = [];
  for (const { queue: q, kind, topic, owner } of candidates) {
    const expiry = queueExpiry(q, policies);
    const neverExpires = expiry === undefined || expiry.ms > thresholds.zombieMaxExpires;
    const hasLiveSibling = topic !== undefined && liveTopics.has(`${q.vhost}\u0000${topic}`);
    const ownerAlive = owner !== undefined && liveOwners.has(`${q.vhost}\u0000${owner}`);
    // "Rising" needs a count above the last sample, so it implies messages > 0: the count alone decides, and the
    // history only says by how much it grew.
    let zombie: boolean;
    if (owner !== undefined) zombie = !ownerAlive && (q.messages > 0 || neverExpires);
    else
      zombie = kind === 'fanout' ? q.messages > 0 && (hasLiveSibling || neverExpires) : q.messages > 0 || neverExpires;
    if (!zombie) continue;

    const key = queueKey(q);
    const previous = history.get(key)?.at(-1);
    let summary: string;
    const details: string[] = [];
    if (owner !== undefined) {
      const what =
        kind === 'fanout' ? `Fanout queue ${queueName(q)} of topic \`${topic}\`` : `Reply queue ${queueName(q)}`;
      const holds = q.messages > 0 ? `holds ${messagesText(q.messages)}` : 'never expires';
      summary = `${what} ${holds} and no queue of its owner \`${owner}\` is consumed: that process is gone`;
      details.push(
        `Owner \`${owner}\` (host and process of oslo's queue manager): a restarted process takes the same names again, so none of its queues being consumed means it did not come back (a retired or dead host)`,
      );
    } else if (kind === 'fanout') {
      const why = hasLiveSibling ? `while another \`${topic}\` fanout queue is consumed` : 'and it never expires';
      summary = `Fanout queue ${queueName(q)} of topic \`${topic}\` holds ${messagesText(q.messages)} with no consumer, ${why}`;
      details.push(
        hasLiveSibling
          ? `Live sibling: another \`${topic}\` fanout queue has a consumer, so the server that declared this one died and came back under a new queue`
          : `No live sibling: no other \`${topic}\` fanout queue has a consumer (the topic's servers may all be down)`,
      );
    } else {
      summary =
        q.messages > 0
          ? `Reply queue ${queueName(q)} holds ${messagesText(q.messages)} with no consumer: its RPC client is gone`
          : `Reply queue ${queueName(q)} has no consumer and never expires: its RPC client is gone`;
    }
    details.push(expiryText(expiry, thresholds.zombieMaxExpires));
    if (previous && q.messages > previous.messages) {
      details.push(`Up ${formatCount(q.messages - previous.messages)} since the previous sweep`);
    }
    findings.push({
      check: ID,
      severity: 'warning',
      subject: key,
      summary,
      details,
      data: {
        vhost: q.vhost,
        name: q.name,
        topic: topic ?? null,
        kind,
        messages: q.messages,
        hasLiveSibling,
        ...(owner !== undefined ? { owner } : {}),
        expiresMs: expiry?.ms ?? null,
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const zombieQueuesCheck = defineCheck({
  id: ID,
  title: 'Zombie fanout and reply queues',
  hint:
    'Delete the queue (Fix…, or `DELETE /api/queues/{vhost}/{name}?if-unused=true`): the process that read it is ' +
    'gone, and every fanout cast piles up in it. Prevent more with an `expires` policy on `_fanout_` and `reply_` ' +
    "queues, or keep oslo's `rabbit_transient_queues_ttl` (default 1800 s) above 0.",
  workflow: 'delete-zombie-queues',
  needs: ['queues'],
  evaluate,
});
