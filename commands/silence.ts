/**
 * `/rabbit silence <alert|check> <duration> [reason…]`: stop reminders and posts for one alert
 * (`zombie-queues@prod`) or a check on every cluster (`zombie-queues`) for a while. Said in the channel, because
 * everyone watching alerts should know that warren has been told to keep quiet, by whom and why.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { formatTime } from '../src/health/health-format.js';

const MAX_SILENCE_MS = 30 * 86_400_000;

type SilenceArgs = { target: string; durationMs: number; reason: string };

export const silenceCommand = defineCommand<SilenceArgs>({
  name: 'silence',
  usage: '<alert|check> <duration> [reason]',
  summary: 'Silence an alert (check@cluster) or a check for a while, e.g. `silence zombie-queues@prod 2h upgrade`',
  access: 'operate',
  args: z
    .object({
      positionals: z.array(z.string()).min(2, 'silence needs an alert or check id and a duration'),
      flags: z.strictObject({}, { error: 'silence takes no flags' }),
    })
    .transform((argv, ctx): SilenceArgs => {
      const [target = '', duration = '', ...reason] = argv.positionals;
      const durationMs = parseDuration(duration);
      if (durationMs === undefined || durationMs <= 0) {
        ctx.addIssue({ code: 'custom', message: `not a duration: "${duration}" (write e.g. 30m, 2h, 1d)` });
        return z.NEVER;
      }
      if (durationMs > MAX_SILENCE_MS) {
        ctx.addIssue({ code: 'custom', message: 'a silence lasts at most 30d; fix the cause or disable the check' });
        return z.NEVER;
      }
      return { target, durationMs, reason: reason.join(' ') };
    }),
  async run(context: CommandContext, args: SilenceArgs): Promise<ChatReply> {
    const health = context.health;
    if (!health) return ephemeral('Health checks are not running (health.enabled is false).');
    const silence = await health.silence(args.target, args.durationMs, context.userId, args.reason);
    return {
      visibility: 'in_channel',
      text:
        `:mute: <@${context.userId}> silenced \`${silence.target}\` for ${formatDuration(args.durationMs)} ` +
        `(until ${formatTime(silence.expiresAt)})${silence.reason ? `: ${silence.reason}` : ''}. ` +
        `Undo with \`${context.slashCommand} unsilence ${silence.id}\`.`,
    };
  },
});
