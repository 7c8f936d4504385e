/**
 * `/rabbit fix <workflow|alert id> [args…] [--cluster NAME] [--dry-run]`: starts a remediation workflow, by name or
 * from a firing alert (`fix zombie-queues@prod`). The plan is computed now; risky runs post an approval request in
 * the channel, low-risk ones start at once. `--dry-run` shows the plan and its guards and changes nothing, so
 * anyone who may read may ask for one; starting a run is for operators.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { WorkflowWords } from '../src/remediation/workflow-definition.js';
import { allWorkflows } from '../workflows/index.js';

interface FixArgs {
  target: string;
  /** The words after the target, handed on as split: the workflow names and validates them, once. */
  words: WorkflowWords;
  cluster?: string;
  dryRun: boolean;
}

export const fixCommand = defineCommand<FixArgs>({
  name: 'fix',
  usage: '<workflow|alert id> [args] [--cluster NAME] [--dry-run]',
  summary:
    'Start a remediation workflow (see `workflows`), or the one an alert suggests; `--dry-run` only shows the plan',
  access: 'read',
  accessFor: (args) => (args.dryRun ? 'read' : 'operate'),
  // The engine holds a run to the channel's vhost scope, on start (a dry run too) and on approval.
  vhosts: 'scoped',
  // The command's words are split once, here, so every workflow's value-less flags must be known to this split.
  booleanFlags: ['dry-run', ...new Set(allWorkflows.flatMap((w) => w.booleanFlags ?? []))],
  args: z
    .object({
      positionals: z
        .array(z.string())
        .min(1, 'fix needs a workflow name or an alert id (see `workflows` and `alerts`)'),
      flags: z.record(z.string(), z.union([z.string(), z.literal(true)])),
    })
    .transform(({ positionals, flags }): FixArgs => {
      const { cluster, 'dry-run': dryRun, ...rest } = flags;
      return {
        target: positionals[0] as string,
        words: { positionals: positionals.slice(1), flags: rest },
        ...(typeof cluster === 'string' ? { cluster } : {}),
        dryRun: dryRun === true,
      };
    }),
  async run(context: CommandContext, args: FixArgs): Promise<ChatReply> {
    const remediation = context.remediation;
    if (!remediation) return ephemeral('Remediation is not available in this warren.');
    return remediation.start({
      target: args.target,
      words: args.words,
      ...(args.cluster ? { cluster: args.cluster } : {}),
      dryRun: args.dryRun,
      requester: context.userId,
      channel: context.channelId,
    });
  },
});
