/**
 * `/rabbit fix <workflow|alert id> [args…] [--cluster NAME] [--dry-run]`: starts a remediation workflow, by name or
 * from a firing alert (`fix zombie-queues@prod`). The plan is computed now; risky runs post an approval request in
 * the channel, low-risk ones start at once. `--dry-run` shows the plan and its guards and changes nothing, so
 * anyone who may read may ask for one; starting a run is for operators.
 */
import { z } from 'zod';
import type { ChatReply } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';

interface FixArgs {
  target: string;
  argsText: string;
  cluster?: string;
  dryRun: boolean;
}

/** Puts tokens back into command text that tokenize() reads back the same, quoting what has spaces. */
function untokenize(tokens: readonly string[]): string {
  return tokens.map((t) => (/[\s"']/.test(t) ? `"${t.replace(/"/g, '')}"` : t)).join(' ');
}

export const fixCommand = defineCommand<FixArgs>({
  name: 'fix',
  usage: '<workflow|alert id> [args] [--cluster NAME] [--dry-run]',
  summary:
    'Start a remediation workflow (see `workflows`), or the one an alert suggests; `--dry-run` only shows the plan',
  access: 'read',
  accessFor: (args) => (args.dryRun ? 'read' : 'operate'),
  booleanFlags: ['dry-run', 'force'],
  args: z
    .object({
      positionals: z
        .array(z.string())
        .min(1, 'fix needs a workflow name or an alert id (see `workflows` and `alerts`)'),
      flags: z.record(z.string(), z.union([z.string(), z.literal(true)])),
    })
    .transform(({ positionals, flags }): FixArgs => {
      const { cluster, 'dry-run': dryRun, ...rest } = flags;
      const passed = Object.entries(rest).flatMap(([name, value]) =>
        value === true ? [`--${name}`] : [`--${name}=${value}`],
      );
      return {
        target: positionals[0] as string,
        argsText: untokenize([...positionals.slice(1), ...passed]),
        ...(typeof cluster === 'string' ? { cluster } : {}),
        dryRun: dryRun === true,
      };
    }),
  async run(context: CommandContext, args: FixArgs): Promise<ChatReply> {
    const remediation = context.remediation;
    if (!remediation) return { visibility: 'ephemeral', text: 'Remediation is not available in this warren.' };
    return remediation.start({
      target: args.target,
      argsText: args.argsText,
      ...(args.cluster ? { cluster: args.cluster } : {}),
      dryRun: args.dryRun,
      requester: context.userId,
      channel: context.channelId,
    });
  },
});
