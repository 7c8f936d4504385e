/**
 * `fix close-leaky-connections [service-glob] [--min-channels N]` (runbook 1.1): the stopgap for a channel leak,
 * closing the connections that hold more channels than a healthy oslo client ever does. The real fix is
 * restarting the service, so the preview names service, host and pid for that. Risk high: the client loses its
 * in-flight work and must reconnect. The close carries an `X-Reason` naming warren, the run and the requester,
 * which the client sees in its connection.close.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { describeConnection, serviceOf } from '../src/health/openstack-connection.js';
import { connectionSchema } from '../src/management/schemas.js';
import { freshConnection } from '../src/remediation/broker-state.js';
import { closeConnection, connectionsStillOpen } from '../src/remediation/connection-close.js';
import { defineWorkflow, type WorkflowContext } from '../src/remediation/workflow-definition.js';
import { globMatch } from '../src/tap/glob.js';

interface Args {
  service?: string;
  minChannels?: number;
}

const connectionsSchema = z.array(connectionSchema);

function threshold(context: WorkflowContext, args: Args): number {
  return args.minChannels ?? context.health.thresholds.channelsPerConnection;
}

export const closeLeakyConnectionsWorkflow = defineWorkflow<Args>({
  name: 'close-leaky-connections',
  description: 'Close connections holding more channels than the channel-leak threshold',
  risk: 'high',
  usage: '[service-glob] [--min-channels N]',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, 'at most one OpenStack service pattern (a glob such as nova-*)'),
      flags: z.strictObject(
        {
          'min-channels': z.string().regex(/^\d+$/, '--min-channels takes a whole number').transform(Number).optional(),
        },
        { error: 'close-leaky-connections takes only --min-channels' },
      ),
    })
    .transform(({ positionals, flags }) => ({ service: positionals[0], minChannels: flags['min-channels'] })),
  args: z.object({
    service: z.string().optional(),
    minChannels: z.number().int().min(2, '--min-channels must be at least 2').optional(),
  }),
  argsForAlert: () => ({}),

  async plan(context, args) {
    const min = threshold(context, args);
    const connections = await context.management.get('/api/connections', connectionsSchema, {
      columns: 'name,node,user,vhost,peer_host,peer_port,channels,client_properties',
    });
    const leaky = connections
      .filter((c) => c.channels > min && (!args.service || globMatch(args.service, serviceOf(c))))
      .sort((a, b) => b.channels - a.channels);
    if (leaky.length === 0) {
      throw new WorkflowRefusedError(
        `No connection on \`${context.cluster}\` holds more than ${formatCount(min)} channels${args.service ? ` for services matching \`${args.service}\`` : ''}: nothing to close.`,
      );
    }
    const chosen = leaky.slice(0, context.remediation.maxItemsPerRun);
    const channels = chosen.reduce((n, c) => n + c.channels, 0);
    return {
      summary: `close ${formatCount(chosen.length)} connection(s) holding ${formatCount(channels)} channels`,
      warnings: [
        'Each client loses its in-flight work and must reconnect; oslo.messaging does so by itself.',
        'This is the stopgap: restart the services named below to stop the leak for good.',
      ],
      actions: chosen.map((c) => ({
        key: c.name,
        ...(c.vhost ? { vhosts: [c.vhost] } : {}),
        label: `close ${describeConnection(c)}: ${formatCount(c.channels)} channels`,
        data: { name: c.name },
      })),
      guards: [`the connection is still open and still holds more than ${formatCount(min)} channels`],
      ...(leaky.length > chosen.length ? { leftOut: leaky.length - chosen.length } : {}),
    };
  },

  async guard(context, action, args) {
    const connection = await freshConnection(context.management, (action.data as { name: string }).name);
    if (!connection) return { reason: 'already closed', abort: false };
    const min = threshold(context, args);
    if (connection.channels <= min) {
      return {
        reason: `it holds ${formatCount(connection.channels)} channels now, not more than ${formatCount(min)}`,
        abort: false,
      };
    }
    return undefined;
  },

  async execute(context, action) {
    const { name } = action.data as { name: string };
    return closeConnection(
      context.management,
      name,
      `closed by warren run ${context.runId} requested by ${context.requester}: channel leak`,
    );
  },

  async verify(context, done) {
    const open = await connectionsStillOpen(
      context.management,
      done.map((action) => (action.data as { name: string }).name),
    );
    if (open.length === 0) return { ok: true, detail: `${formatCount(done.length)} connection(s) closed` };
    return { ok: false, detail: `still open: ${open.map((n) => `\`${n}\``).join(', ')}` };
  },
});
