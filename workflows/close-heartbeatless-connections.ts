/**
 * `fix close-heartbeatless-connections [service-glob]` (runbook 1.7): closes the connections the `heartbeats` check
 * reports, whose negotiated `timeout` is 0 (heartbeats off) or above `thresholds.heartbeatMaxSeconds`.
 *
 * A STOPGAP, and a weak one. The client's answer wins the heartbeat negotiation, so a live client reconnects with
 * the same config and no heartbeats, and the alert fires again until the service's `heartbeat_timeout_threshold`
 * is fixed and the service restarted. What closing does buy: a peer that died silently (exactly what heartbeats
 * would have noticed) stops holding its connection, channels and unacknowledged messages, which go back to their
 * queues. The preview names service, host and pid (where to fix the config), and the close carries an `X-Reason`
 * telling the client's operator what to change. Verify says plainly when connections came back without heartbeats.
 * Risk high, as for close-leaky-connections: the client loses its in-flight work and must reconnect.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { WorkflowRefusedError } from '../src/errors.js';
import type { AlertState } from '../src/health/alert-state.js';
import { heartbeatsTooWeak } from '../src/health/checks/heartbeats.js';
import { describeConnection, serviceOf, UNKNOWN_SERVICE } from '../src/health/openstack-connection.js';
import { connectionSchema, type ManagementConnection } from '../src/management/schemas.js';
import { freshConnection } from '../src/remediation/broker-state.js';
import { closeConnection, connectionsStillOpen } from '../src/remediation/connection-close.js';
import { defineWorkflow, type PlannedAction, type WorkflowContext } from '../src/remediation/workflow-definition.js';
import { globMatch } from '../src/tap/glob.js';

interface Args {
  service?: string;
}

/** What a step needs, as plan JSON. */
interface Target {
  name: string;
  service: string;
  timeout: number;
  /** The broker's `connected_at`: a connection that reused the same address pair since the plan is another one. */
  connectedAt?: number;
  /** The newest `connected_at` the plan saw (broker clock): connections opened after it are new since the plan. */
  openedBefore?: number;
}

const COLUMNS = 'name,node,user,vhost,peer_host,peer_port,channels,timeout,connected_at,client_properties';
const connectionsSchema = z.array(connectionSchema);
/** A service name that is safe as command text and matches only itself as a glob. */
const PLAIN_SERVICE = /^[\w.-]+$/;

const target = (action: PlannedAction) => action.data as unknown as Target;
const maxSeconds = (context: WorkflowContext) => context.health.thresholds.heartbeatMaxSeconds;
const heartbeat = (timeout: number) => (timeout === 0 ? 'heartbeats disabled' : `heartbeat ${formatCount(timeout)} s`);
const who = (service: string) => (service === UNKNOWN_SERVICE ? 'clients without an oslo name' : `\`${service}\``);

function listConnections(context: WorkflowContext): Promise<ManagementConnection[]> {
  return context.management.get('/api/connections', connectionsSchema, { columns: COLUMNS });
}

/** What the client's operator must change, short: it shows up in the client's log. */
function reason(context: WorkflowContext, timeout: number): string {
  const fix =
    timeout === 0
      ? 'set heartbeat_timeout_threshold (oslo, [oslo_messaging_rabbit]) above 0'
      : `set heartbeat_timeout_threshold (oslo, [oslo_messaging_rabbit]) to at most ${maxSeconds(context)}`;
  return `closed by warren run ${context.runId} for ${context.requester}: ${heartbeat(timeout)}; ${fix} and restart the service`;
}

/** From the alert's Fix…: its one service when there is exactly one (every finding is one service), else all. */
function argsForAlert(alert: AlertState): Partial<Args> {
  if (alert.findingCount !== alert.findings.length) return {};
  const services = new Set(alert.findings.map((f) => f.data?.service));
  const [service] = services;
  return services.size === 1 && typeof service === 'string' && PLAIN_SERVICE.test(service) ? { service } : {};
}

export const closeHeartbeatlessConnectionsWorkflow = defineWorkflow<Args>({
  name: 'close-heartbeatless-connections',
  description:
    'Stopgap: close connections with heartbeats disabled; live clients reconnect unchanged until their config is fixed',
  risk: 'high',
  usage: '[service-glob]',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, 'at most one OpenStack service pattern (a glob such as cinder-*)'),
      flags: z.strictObject({}, { error: 'close-heartbeatless-connections takes no flags' }),
    })
    .transform(({ positionals }) => ({ service: positionals[0] })),
  args: z.object({ service: z.string().optional() }),
  argsForAlert,

  async plan(context, args) {
    const max = maxSeconds(context);
    const connections = await listConnections(context);
    const weak = connections
      .filter((c) => heartbeatsTooWeak(c, max))
      .filter((c) => !args.service || globMatch(args.service, serviceOf(c)))
      .sort((a, b) => serviceOf(a).localeCompare(serviceOf(b)) || a.name.localeCompare(b.name));
    if (weak.length === 0) {
      throw new WorkflowRefusedError(
        `No connection on \`${context.cluster}\` has heartbeats disabled or above ${formatCount(max)} s${args.service ? ` for services matching \`${args.service}\`` : ''}: nothing to close.`,
      );
    }
    const chosen = weak.slice(0, context.remediation.maxItemsPerRun);
    const channels = chosen.reduce((n, c) => n + c.channels, 0);
    const services = [...new Set(chosen.map(serviceOf))];
    // Not Math.max(...): a big cluster lists more connections than a call takes arguments.
    const openedBefore = connections.reduce<number | undefined>(
      (newest, c) =>
        c.connected_at !== undefined && (newest === undefined || c.connected_at > newest) ? c.connected_at : newest,
      undefined,
    );
    return {
      summary:
        `close ${formatCount(chosen.length)} connection(s) without working heartbeats, holding ` +
        `${formatCount(channels)} channel(s), of ${formatCount(services.length)} service(s): ` +
        services.map(who).join(', '),
      warnings: [
        'Each client loses its in-flight work and must reconnect; oslo.messaging does so by itself.',
        'This is only a stopgap. It clears peers that died unnoticed, but a live client reconnects with the same ' +
          'config, still without heartbeats, and the alert comes back. The fix: set `heartbeat_timeout_threshold` ' +
          "in the `[oslo_messaging_rabbit]` section of each service's config and restart it on the hosts below.",
      ],
      actions: chosen.map((c) => ({
        key: c.name,
        ...(c.vhost ? { vhosts: [c.vhost] } : {}),
        label: `close ${describeConnection(c)}: ${heartbeat(c.timeout)}, ${formatCount(c.channels)} channel(s)`,
        data: {
          name: c.name,
          service: serviceOf(c),
          timeout: c.timeout,
          ...(c.connected_at !== undefined ? { connectedAt: c.connected_at } : {}),
          ...(openedBefore !== undefined ? { openedBefore } : {}),
        } satisfies Target,
      })),
      guards: [
        `the connection is still open, is the same one, and its heartbeat is still off or above ${formatCount(max)} s`,
      ],
      ...(weak.length > chosen.length ? { leftOut: weak.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const planned = target(action);
    const connection = await freshConnection(context.management, planned.name);
    if (!connection) return { reason: 'already closed', abort: false };
    if (
      planned.connectedAt !== undefined &&
      connection.connected_at !== undefined &&
      connection.connected_at !== planned.connectedAt
    ) {
      return { reason: 'another connection holds that address now', abort: false };
    }
    const max = maxSeconds(context);
    if (!heartbeatsTooWeak(connection, max)) {
      return {
        reason:
          connection.timeout === undefined
            ? 'it reports no heartbeat timeout now'
            : `its heartbeat is ${formatCount(connection.timeout)} s now, within ${formatCount(max)} s`,
        abort: false,
      };
    }
    return undefined;
  },

  async execute(context, action) {
    const { name, timeout } = target(action);
    return closeConnection(context.management, name, reason(context, timeout));
  },

  async verify(context, done) {
    const planned = done.map(target);
    const open = await connectionsStillOpen(
      context.management,
      planned.map((t) => t.name),
    );
    if (open.length > 0) return { ok: false, detail: `still open: ${open.map((n) => `\`${n}\``).join(', ')}` };
    const detail = `${formatCount(planned.length)} connection(s) closed`;
    if (planned.length === 0) return { ok: true, detail };

    // The same client, reconnected with the same config: the closing fixed nothing for it.
    const max = maxSeconds(context);
    const services = new Set(planned.map((t) => t.service));
    const names = new Set(planned.map((t) => t.name));
    const openedBefore = planned[0]?.openedBefore;
    const back = new Map<string, { count: number; off: boolean }>();
    for (const c of await listConnections(context)) {
      const isNew =
        openedBefore !== undefined && c.connected_at !== undefined ? c.connected_at > openedBefore : !names.has(c.name);
      if (!isNew || !services.has(serviceOf(c)) || !heartbeatsTooWeak(c, max)) continue;
      const seen = back.get(serviceOf(c)) ?? { count: 0, off: true };
      back.set(serviceOf(c), { count: seen.count + 1, off: seen.off && c.timeout === 0 });
    }
    if (back.size === 0) {
      return {
        ok: true,
        detail:
          `${detail}; none has come back without heartbeats yet, but a live client that reconnects with the same ` +
          'config will, and the alert with it, until `heartbeat_timeout_threshold` is fixed in its config.',
      };
    }
    const lines = [...back].map(
      ([service, { count, off }]) =>
        `${formatCount(count)} new connection(s) of ${who(service)} came back ${off ? 'without heartbeats' : `with heartbeats off or above ${formatCount(max)} s`}`,
    );
    return {
      ok: true,
      detail:
        `${detail}, but ${lines.join(', ')}. Closing does not fix that: the real fix is the client's config ` +
        '(`heartbeat_timeout_threshold` in `[oslo_messaging_rabbit]`, then restart the service), and the alert ' +
        'will fire again until then.',
    };
  },
});
