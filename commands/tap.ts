/**
 * `/rabbit tap [status|pause|resume] [cluster]`: what the notification tap is doing per cluster and vhost (connected
 * node or why the vhost is refused, bindings and their queues, events/s, parse errors, last event, reconnects), and
 * pausing it for a maintenance window. Pausing and resuming are for operators, and act on every vhost of a cluster.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral } from '../src/chat/chat-message.js';
import { formatCount } from '../src/chat/human-format.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { TapStatus } from '../src/tap/notification-tap.js';

type TapArgs = { action: 'status' | 'pause' | 'resume'; cluster: string | undefined };

const STATE_ICON = {
  bound: ':large_green_circle:',
  pending: ':hourglass_flowing_sand:',
  waiting_for_exchange: ':hourglass_flowing_sand:',
  failed: ':red_circle:',
};

const REFUSAL = {
  vhost_not_found: 'the vhost does not exist',
  vhost_access_refused: "warren's user has no permission on the vhost",
};

export function renderTapStatus(status: TapStatus, now = Date.now()): string {
  // The default vhost is left unsaid, as it was before the tap could listen in several.
  const name = status.vhost === '/' ? `*${status.cluster}*` : `*${status.cluster}* vhost \`${status.vhost}\``;
  const head = status.refused
    ? `:red_circle: ${name}: *refused*: ${REFUSAL[status.refused.reason]} (retrying): ${status.refused.error}`
    : status.connected
      ? `${name}: connected to \`${status.node}\`${status.paused ? ' — *paused*' : ''}${status.blocked ? ' — *blocked by a resource alarm*' : ''}`
      : `${name}: *not connected* (reconnecting)`;
  const last = status.lastEventAt ? `${Math.round((now - status.lastEventAt) / 1000)}s ago` : 'never';
  const figures = `${status.eventsPerSecond} events/s · ${formatCount(status.received)} received · ${formatCount(status.invalid)} invalid · last event ${last} · ${status.reconnects} reconnect(s) · mode ${status.mode}`;
  const bindings = status.bindings.map((b) => {
    const detail = b.state === 'bound' ? `queue \`${b.queue}\`` : b.state.replace(/_/g, ' ');
    return `${STATE_ICON[b.state]} \`${b.exchange}\` ${b.routingKeys.join(', ')} — ${detail}${b.error && b.state !== 'bound' ? `: ${b.error}` : ''}`;
  });
  return [head, figures, ...bindings].join('\n');
}

export const tapCommand = defineCommand<TapArgs>({
  name: 'tap',
  usage: '[status|pause|resume] [cluster]',
  summary: 'Notification tap status per cluster; pause or resume it for maintenance',
  access: 'read',
  accessFor: (args) => (args.action === 'status' ? 'read' : 'operate'),
  args: z
    .object({
      positionals: z.array(z.string()).max(2, 'tap takes an action and at most one cluster name'),
      flags: z.strictObject({}, { error: 'tap takes no flags' }),
    })
    .transform((argv, ctx): TapArgs => {
      const [first, second] = argv.positionals;
      if (first === 'status' || first === 'pause' || first === 'resume') return { action: first, cluster: second };
      if (second !== undefined) {
        ctx.addIssue({ code: 'custom', message: `unknown tap action "${first}" (status, pause or resume)` });
        return z.NEVER;
      }
      return { action: 'status', cluster: first };
    }),
  async run(context: CommandContext, args: TapArgs): Promise<ChatReply> {
    const tap = context.tap;
    if (!tap) return ephemeral('The notification tap is not running (tap.enabled is false).');
    if (args.action === 'status') {
      if (args.cluster !== undefined) context.clusters.get(args.cluster);
      const statuses = tap.status().filter((s) => args.cluster === undefined || s.cluster === args.cluster);
      const text = statuses.map((s) => renderTapStatus(s)).join('\n\n');
      return ephemeral(text, [
        { type: 'header', text: { type: 'plain_text', text: 'Notification tap' } },
        ...statuses.map((s) => ({
          type: 'section' as const,
          text: { type: 'mrkdwn' as const, text: renderTapStatus(s) },
        })),
      ]);
    }
    const clusters = args.action === 'pause' ? await tap.pause(args.cluster) : await tap.resume(args.cluster);
    const verb = args.action === 'pause' ? 'paused' : 'resumed';
    // Said in the channel: everyone watching alerts should know the tap is deaf during maintenance.
    return {
      visibility: 'in_channel',
      text: `<@${context.userId}> ${verb} the notification tap for ${clusters.join(', ')}.`,
    };
  },
});
