/** `/rabbit workflows`: the remediation workflows, their risk and how many approvals each needs. */
import { z } from 'zod';
import { type ChatReply, ephemeral, ephemeralSection } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { approvalsNeeded } from '../src/remediation/workflow-definition.js';

export const workflowsCommand = defineCommand({
  name: 'workflows',
  usage: '',
  summary: 'List the remediation workflows with their risk level',
  access: 'read',
  // Nodes, totals and names of things warren knows: nothing of any one vhost.
  vhosts: 'none',
  args: z.object({
    positionals: z.array(z.string()).max(0, 'workflows takes no arguments'),
    flags: z.strictObject({}, { error: 'workflows takes no flags' }),
  }),
  async run(context: CommandContext): Promise<ChatReply> {
    const workflows = context.remediation?.workflows ?? [];
    if (workflows.length === 0) return ephemeral('No workflows are available.');
    const lines = workflows.map((w) => {
      const needed = approvalsNeeded(w.risk);
      const approval = needed === 0 ? 'runs at once' : needed === 1 ? 'needs 1 approver' : `needs ${needed} approvers`;
      const usage = w.usage ? ` ${w.usage}` : '';
      return `• \`fix ${w.name}${usage}\`: ${w.description}. Risk *${w.risk}*, ${approval}${w.needsNodeControl ? ', needs node control' : ''}.`;
    });
    const text = `*Workflows* (add \`--dry-run\` to see a plan without starting it)\n${lines.join('\n')}`;
    return ephemeralSection(text);
  },
});
