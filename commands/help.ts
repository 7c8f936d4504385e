/** `/rabbit help`: the list of commands, generated from their definitions so it cannot drift from them. */

import { z } from 'zod';
import { ephemeralSection } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand, usageLine } from '../src/chatops/command-definition.js';

export const helpCommand = defineCommand({
  name: 'help',
  usage: '',
  summary: 'List the commands warren understands',
  access: 'read',
  // Nodes, totals and names of things warren knows: nothing of any one vhost.
  vhosts: 'none',
  args: z.object({
    positionals: z.array(z.string()).max(0, 'help takes no arguments'),
    flags: z.strictObject({}, { error: 'help takes no flags' }),
  }),
  async run(context: CommandContext) {
    const lines = context.commands.map((c) => `• \`${usageLine(context.slashCommand, c)}\` — ${c.summary}`);
    const text = `*warren commands*\n${lines.join('\n')}`;
    return ephemeralSection(text);
  },
});
