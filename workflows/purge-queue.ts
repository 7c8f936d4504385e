/**
 * `fix purge-queue <queue> [--vhost V] [--force]` (runbook 1.3): empties one queue, such as a `notifications.info`
 * pile-up nobody consumes. Purged messages cannot be brought back, hence risk high. A queue with consumers is
 * refused unless `--force`: messages there are being worked off, and a backlog with live consumers usually
 * means a slow consumer to fix, not messages to throw away.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { nameInVhost } from '../src/chat/vhost-text.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { consumerCount, freshQueue, queuePath } from '../src/remediation/broker-state.js';
import { defineWorkflow, type PlannedAction } from '../src/remediation/workflow-definition.js';

interface Args {
  queue: string;
  vhost?: string;
  force: boolean;
}

const VERIFY_MS = 15_000;
const ONE_QUEUE = 'purge-queue needs exactly one queue name';

export const purgeQueueWorkflow = defineWorkflow<Args>({
  name: 'purge-queue',
  description: 'Drop every ready message of one queue',
  risk: 'high',
  usage: '<queue> [--vhost V] [--force]',
  booleanFlags: ['force'],
  words: z
    .object({
      positionals: z.array(z.string()).max(1, ONE_QUEUE),
      flags: z.strictObject(
        { vhost: z.string().optional(), force: z.literal(true).optional() },
        { error: 'purge-queue takes only --vhost and --force' },
      ),
    })
    .transform(({ positionals, flags }) => ({ queue: positionals[0], vhost: flags.vhost, force: flags.force })),
  args: z.object({
    queue: z.string({ error: ONE_QUEUE }),
    vhost: z.string().min(1).optional(),
    force: z.boolean().default(false),
  }),
  vhosts: (args, clusterVhost) => [args.vhost ?? clusterVhost],

  async plan(context, args) {
    const vhost = args.vhost ?? context.vhost;
    const queue = await freshQueue(context.management, vhost, args.queue);
    if (!queue) throw new WorkflowRefusedError(`There is no queue \`${args.queue}\` in vhost \`${vhost}\`.`);
    const consumers = await consumerCount(context.management, queue);
    if (consumers > 0 && !args.force) {
      throw new WorkflowRefusedError(
        `\`${args.queue}\` has ${consumers} consumer(s) working it off; purging would throw away messages they are about to process. Fix the consumer, or add --force if you really mean it.`,
      );
    }
    if (queue.messages_ready === 0)
      throw new WorkflowRefusedError(`\`${args.queue}\` holds no ready messages: nothing to purge.`);
    const warnings = ['Purged messages are gone for good: there is no undo.'];
    if (consumers > 0) warnings.push(`${consumers} consumer(s) are attached (--force).`);
    if (queue.messages_unacknowledged > 0) {
      warnings.push(
        `${formatCount(queue.messages_unacknowledged)} unacknowledged message(s) stay: a purge drops only ready ones.`,
      );
    }
    return {
      summary: `purge ${formatCount(queue.messages_ready)} ready message(s) from \`${args.queue}\``,
      warnings,
      actions: [
        {
          key: `${vhost}/${args.queue}`,
          label: `purge ${nameInVhost(args.queue, vhost)} (${formatCount(queue.messages_ready)} ready)`,
          data: { vhost, name: args.queue },
          vhosts: [vhost],
        },
      ],
      guards: args.force ? ['the queue still exists'] : ['the queue still exists and still has no consumer'],
    };
  },

  async guard(context, action, args) {
    const { vhost, name } = action.data as { vhost: string; name: string };
    const queue = await freshQueue(context.management, vhost, name);
    if (!queue) return { reason: 'the queue is gone', abort: true };
    const consumers = await consumerCount(context.management, queue);
    if (!args.force && consumers > 0) {
      return {
        reason: `it has ${consumers} consumer(s) now; purge again with --force if you mean it`,
        abort: true,
      };
    }
    return undefined;
  },

  async execute(context, action) {
    const { vhost, name } = action.data as { vhost: string; name: string };
    const { status } = await context.management.send('DELETE', `${queuePath(vhost, name)}/contents`);
    return status === 404 ? 'the queue is gone' : 'purged';
  },

  async verify(context, done) {
    const { vhost, name } = (done[0] as PlannedAction).data as { vhost: string; name: string };
    // The management API's counts trail the queue by a few seconds: wait for them before judging.
    const deadline = Date.now() + VERIFY_MS;
    let ready = Number.NaN;
    while (Date.now() < deadline) {
      const queue = await freshQueue(context.management, vhost, name);
      if (!queue) return { ok: true, detail: 'the queue no longer exists' };
      ready = queue.messages_ready;
      if (ready === 0) return { ok: true, detail: `\`${name}\` has no ready messages` };
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    return {
      ok: false,
      detail: `\`${name}\` still reports ${formatCount(ready)} ready message(s): publishers may still be sending`,
    };
  },
});
