/** `/rabbit silences`: the silences in force, who set them, why and until when. */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { silenceLine } from '../src/health/health-format.js';

export const silencesCommand = defineCommand({
  name: 'silences',
  usage: '',
  summary: 'List the silences in force',
  access: 'read',
  args: z.object({
    positionals: z.array(z.string()).max(0, 'silences takes no arguments'),
    flags: z.strictObject({}, { error: 'silences takes no flags' }),
  }),
  async run(context: CommandContext): Promise<ChatReply> {
    const health = context.health;
    if (!health) return ephemeral('Health checks are not running (health.enabled is false).');
    const silences = await health.silences();
    if (silences.length === 0) return ephemeral('No silences are in force.');
    const now = Date.now();
    return ephemeral(`*${silences.length} silence(s)*\n${silences.map((s) => `• ${silenceLine(s, now)}`).join('\n')}`);
  },
});
