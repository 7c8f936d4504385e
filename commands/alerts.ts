/** `/rabbit alerts`: the alerts firing now on every cluster, with silences and acks, most severe first. */
import { z } from 'zod';
import { type ChatReply, ephemeral, ephemeralSection } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { compareSeverity } from '../src/health/finding.js';
import { alertLine } from '../src/health/health-format.js';
import { silenceMatches } from '../src/health/silences.js';

export const alertsCommand = defineCommand({
  name: 'alerts',
  usage: '',
  summary: 'List the health alerts firing now',
  access: 'read',
  args: z.object({
    positionals: z.array(z.string()).max(0, 'alerts takes no arguments'),
    flags: z.strictObject({}, { error: 'alerts takes no flags' }),
  }),
  async run(context: CommandContext): Promise<ChatReply> {
    const health = context.health;
    if (!health) return ephemeral('Health checks are not running (health.enabled is false).');
    const now = Date.now();
    const [alerts, silences] = await Promise.all([health.alerts(), health.silences()]);
    if (alerts.length === 0) return ephemeral(':large_green_circle: No alerts are firing.');
    alerts.sort((a, b) => compareSeverity(a.severity, b.severity) || a.firedAt - b.firedAt);
    const lines = await Promise.all(
      alerts.map(async (alert) =>
        alertLine(
          alert,
          {
            silence: silences.find((s) => silenceMatches(s, alert.id, now)),
            ackedBy: (await health.ackOf(alert.id))?.user,
          },
          now,
        ),
      ),
    );
    const text = `*${alerts.length} alert(s) firing*\n${lines.join('\n')}`;
    return ephemeralSection(text);
  },
});
