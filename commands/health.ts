/**
 * `/rabbit health [cluster]`: runs every health check now and answers with all findings, including those not yet
 * firing (an alert waits for its `for` sweeps; this answer does not), and the checks that could not run and why.
 * It reads only: alert state is the scheduled sweeps' business.
 */
import type { KnownBlock } from '@slack/types';
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import { healthReport } from '../src/health/health-format.js';

export const healthCommand = defineCommand({
  name: 'health',
  usage: '[cluster]',
  summary: 'Run every health check now and show all findings',
  access: 'read',
  args: z
    .object({
      positionals: z.array(z.string()).max(1, 'health takes at most one cluster name'),
      flags: z.strictObject({}, { error: 'health takes no flags' }),
    })
    .transform((argv) => ({ cluster: argv.positionals[0] })),
  async run(context: CommandContext, args: { cluster: string | undefined }): Promise<ChatReply> {
    const health = context.health;
    if (!health) return ephemeral('Health checks are not running (health.enabled is false).');
    const handles = context.clusters.select(args.cluster);
    const reports = await Promise.all(handles.map((h) => health.evaluate(h.config.name)));
    const sections = reports.flatMap((r) => healthReport(r.cluster, r.results));
    const blocks: KnownBlock[] = sections.map((text) => ({ type: 'section', text: { type: 'mrkdwn', text } }));
    return ephemeral(sections.join('\n\n'), blocks);
  },
});
