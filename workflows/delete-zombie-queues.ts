/**
 * `fix delete-zombie-queues [pattern]` (runbook 1.2): deletes the oslo fanout and reply queues that the
 * zombie-queues check reports: no consumer, messages piling up, and for fanout queues a live sibling of the same
 * topic or no expiry. Before each delete it re-reads the queue: still there, still no consumer, and (fanout) a
 * sibling still consumed or the queue idle for `remediation.zombieIdleAfter`; a queue-manager name
 * (`…:<host>:<process>:<n>`) is judged by its owner as the check judges it: no queue of that host and process is
 * consumed. The delete itself is `if-unused=true` for classic queues, so a consumer that attaches in the last
 * millisecond makes the broker refuse. Quorum queues refuse `if-unused` altogether (RabbitMQ 4.0: "not supported by
 * quorum queues"), so for them the guard's re-read just before the delete is the only protection: a consumer that
 * attaches between the two loses the queue and reconnects (oslo declares its queues again). Risk medium: the
 * messages in these queues go, but nobody was going to read them.
 */

import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { nameInVhost } from '../src/chat/vhost-text.js';
import { formatDuration } from '../src/config/duration.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { zombieQueuesCheck } from '../src/health/checks/zombie-queues.js';
import { queueKey } from '../src/health/cluster-snapshot.js';
import { parseOsloQueueName } from '../src/health/oslo-queue-names.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { consumedQueues, consumerCount, freshQueue, idleSinceMs, queuePath } from '../src/remediation/broker-state.js';
import { defineWorkflow, type PlannedAction } from '../src/remediation/workflow-definition.js';
import { globMatch } from '../src/tap/glob.js';

interface Args {
  pattern?: string;
}

interface ZombieData {
  vhost: string;
  name: string;
  kind: 'fanout' | 'reply';
  topic?: string;
  messages: number;
}

function siblingTopic(queue: string): string | undefined {
  const parsed = parseOsloQueueName(queue);
  return parsed?.kind === 'fanout' ? parsed.topic : undefined;
}

/** `host:process` of a queue-manager name (fanout or reply), the process that owns it; undefined otherwise. */
function ownerOf(queue: string): string | undefined {
  const parsed = parseOsloQueueName(queue);
  if (parsed?.kind !== 'fanout' && parsed?.kind !== 'reply') return undefined;
  return parsed.host !== undefined && parsed.process !== undefined ? `${parsed.host}:${parsed.process}` : undefined;
}

const data = (action: PlannedAction) => action.data as unknown as ZombieData;

export const deleteZombieQueuesWorkflow = defineWorkflow<Args>({
  name: 'delete-zombie-queues',
  description: 'Delete oslo fanout/reply queues left behind by dead RPC servers and clients',
  risk: 'medium',
  usage: '[queue-name-glob]',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, 'at most one queue name pattern (a glob such as compute_fanout_*)'),
      flags: z.strictObject({}, { error: 'delete-zombie-queues takes no flags' }),
    })
    .transform(({ positionals }) => ({ pattern: positionals[0] })),
  args: z.object({ pattern: z.string().optional() }),
  argsForAlert: () => ({}),

  async plan(context, args) {
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    if (!snapshot.queues) throw new WorkflowRefusedError(`Could not list the queues: ${snapshot.errors.queues}`);
    const findings = zombieQueuesCheck.evaluate(snapshot, {
      thresholds: context.health.thresholds,
      history: new Map(),
    });
    const zombies = findings
      .map((f) => f.data as unknown as ZombieData & { hasLiveSibling?: boolean })
      .filter((z) => !args.pattern || globMatch(args.pattern, z.name))
      .sort((a, b) => b.messages - a.messages);
    if (zombies.length === 0) {
      throw new WorkflowRefusedError(
        `No zombie fanout or reply queues on \`${context.cluster}\`${args.pattern ? ` match \`${args.pattern}\`` : ''}: nothing to delete.`,
      );
    }
    const limit = context.remediation.maxItemsPerRun;
    const chosen = zombies.slice(0, limit);
    const messages = chosen.reduce((n, z) => n + z.messages, 0);
    return {
      summary: `delete ${formatCount(chosen.length)} queue(s) holding ${formatCount(messages)} message(s)`,
      warnings: ['The messages in them are dropped: fanout casts and RPC replies that no live process will ever read.'],
      actions: chosen.map((z) => ({
        key: queueKey(z),
        vhosts: [z.vhost],
        label: `delete ${nameInVhost(z.name, z.vhost)}: ${formatCount(z.messages)} message(s)${z.topic ? `, topic \`${z.topic}\`${z.hasLiveSibling ? ', live sibling' : ''}` : ''}`,
        data: {
          vhost: z.vhost,
          name: z.name,
          kind: z.kind,
          messages: z.messages,
          ...(z.topic ? { topic: z.topic } : {}),
        },
      })),
      guards: [
        'the queue still exists and still has no consumer',
        `fanout queues: another queue of the same topic is still consumed, or this one has been idle for ${formatDuration(context.remediation.zombieIdleAfter)}`,
        'classic queues are deleted with if-unused=true: the broker itself refuses if a consumer attached meanwhile; quorum queues do not support it, so the re-read just before is their only guard',
      ],
      ...(zombies.length > chosen.length ? { leftOut: zombies.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const { vhost, name, kind, topic } = data(action);
    const queue = await freshQueue(context.management, vhost, name);
    if (!queue) return { reason: 'already gone', abort: false };
    const consumers = await consumerCount(context.management, queue);
    if (consumers > 0) return { reason: `it has ${consumers} consumer(s) now: not a zombie`, abort: false };
    if (parseOsloQueueName(name)?.kind !== kind)
      return { reason: 'its name is no longer an oslo queue name', abort: false };
    const owner = ownerOf(name);
    if (owner !== undefined) {
      // A restarted process takes the same names again: its own queues being consumed means it is back.
      const consumed = await consumedQueues(context.management, vhost);
      const alive = [...consumed].find((q) => ownerOf(q) === owner);
      if (alive) return { reason: `its owner \`${owner}\` consumes \`${alive}\` again: it is back`, abort: false };
      return undefined;
    }
    if (kind === 'fanout' && topic) {
      const consumed = await consumedQueues(context.management, vhost);
      const liveSibling = [...consumed].some((q) => q !== name && siblingTopic(q) === topic);
      const idleSince = idleSinceMs(queue.idle_since);
      const idleLongEnough = idleSince !== undefined && Date.now() - idleSince >= context.remediation.zombieIdleAfter;
      if (!liveSibling && !idleLongEnough) {
        return {
          reason: `no other \`${topic}\` fanout queue is consumed and it has not been idle for ${formatDuration(context.remediation.zombieIdleAfter)}: its servers may be restarting`,
          abort: false,
        };
      }
    }
    return undefined;
  },

  async execute(context, action) {
    const { vhost, name } = data(action);
    const before = await freshQueue(context.management, vhost, name);
    const { status } = await context.management.send('DELETE', queuePath(vhost, name), {
      params: before?.type === 'quorum' ? {} : { 'if-unused': 'true' },
    });
    if (status === 404) return 'already gone';
    return `deleted (it held ${formatCount(before?.messages ?? 0)} message(s))`;
  },

  async verify(context, done) {
    const left: string[] = [];
    for (const action of done) {
      const { vhost, name } = data(action);
      if (await freshQueue(context.management, vhost, name)) left.push(name);
    }
    return left.length === 0
      ? { ok: true, detail: `${formatCount(done.length)} queue(s) deleted; none of them exists any more` }
      : { ok: false, detail: `still there after the delete: ${left.map((n) => `\`${n}\``).join(', ')}` };
  },
});
