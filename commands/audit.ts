/**
 * `/rabbit audit [N]`: the newest N (default 20, at most 100) entries of the remediation audit trail. The full
 * trail, for compliance, comes from `warren audit-export` as JSON lines.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral, ephemeralSection } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { formatTime } from '../src/health/health-format.js';

const MAX = 100;

export const auditCommand = defineCommand<{ count: number }>({
  name: 'audit',
  usage: '[N]',
  summary: 'Show the latest remediation audit entries (requests, approvals, steps, outcomes)',
  access: 'read',
  args: z
    .object({
      positionals: z
        .array(z.string().regex(/^\d+$/, 'N must be a whole number'))
        .max(1, 'audit takes at most one number'),
      flags: z.strictObject({}, { error: 'audit takes no flags' }),
    })
    .transform(({ positionals }) => ({ count: Number(positionals[0] ?? 20) }))
    .refine((a) => a.count >= 1 && a.count <= MAX, `N must be between 1 and ${MAX}`),
  async run(context: CommandContext, { count }): Promise<ChatReply> {
    const remediation = context.remediation;
    if (!remediation) return ephemeral('Remediation is not available in this warren.');
    const entries = await remediation.audit(count);
    if (entries.length === 0) return ephemeral('The audit trail is empty.');
    const lines = entries.map((e) => {
      const who = e.user === 'warren' ? 'warren' : `<@${e.user}>`;
      return `\`${formatTime(e.at)}\` \`${e.run}\` ${e.workflow}@${e.cluster} *${e.event}* by ${who}${e.detail ? `: ${e.detail}` : ''}`;
    });
    const text = `*Audit trail*, newest first (${entries.length})\n${lines.join('\n')}`;
    return ephemeralSection(text);
  },
});
