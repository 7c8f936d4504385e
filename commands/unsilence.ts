/** `/rabbit unsilence <id>`: end a silence early; the alerts it covered are shown again from the next sweep. */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';

export const unsilenceCommand = defineCommand({
  name: 'unsilence',
  usage: '<silence id>',
  summary: 'End a silence early',
  access: 'operate',
  args: z
    .object({
      positionals: z.array(z.string()).length(1, 'unsilence takes one silence id (see `silences`)'),
      flags: z.strictObject({}, { error: 'unsilence takes no flags' }),
    })
    .transform((argv) => ({ id: argv.positionals[0] as string })),
  async run(context: CommandContext, args: { id: string }): Promise<ChatReply> {
    const health = context.health;
    if (!health) return ephemeral('Health checks are not running (health.enabled is false).');
    const removed = await health.unsilence(args.id);
    if (!removed) {
      return ephemeral(
        `No silence \`${args.id}\` is in force (it may have expired). \`${context.slashCommand} silences\` lists them.`,
      );
    }
    return {
      visibility: 'in_channel',
      text: `:loud_sound: <@${context.userId}> ended silence \`${removed.id}\` on \`${removed.target}\`.`,
    };
  },
});
