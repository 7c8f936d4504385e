/**
 * Which OpenStack process is behind an AMQP connection. oslo.messaging names every connection
 * `"<argv0>:<pid>:<uuid>"` in `client_properties.connection_name` (argv0 is the program's basename in current
 * releases, a full path in some older ones and wrappers), and the broker knows the peer's address, so an alert can
 * say "nova-conductor on 10.0.0.5, pid 4242" instead of a socket pair. Clients that are not oslo (other libraries,
 * warren itself, a name in another format or none) get no service: they are described by what the broker knows.
 * Pure: used by the channel-leak and heartbeats checks and by `/rabbit connections --by service`.
 */
import type { ConnectionInfo } from './cluster-snapshot.js';

export interface OpenStackProcess {
  /** The program, e.g. `nova-compute`; undefined when the connection name is not oslo's. */
  service?: string;
  pid?: number;
  /** The peer's address as the broker sees it (behind NAT or a proxy, that hop's). */
  host?: string;
}

/** The service of connections that do not carry an oslo connection name, in groupings. */
export const UNKNOWN_SERVICE = 'unknown';

const DIGITS = /^\d+$/;

type Connection = Pick<ConnectionInfo, 'name' | 'peer_host' | 'user' | 'client_properties'>;

/** The parts of an oslo connection name, or undefined when it has another shape. */
export function parseConnectionName(
  name: string | undefined,
): { service: string; pid: number; id: string } | undefined {
  if (!name) return undefined;
  // From the right: the uuid and the pid have no colon, argv0 might (a Windows path, an odd wrapper).
  const last = name.lastIndexOf(':');
  const middle = last > 0 ? name.lastIndexOf(':', last - 1) : -1;
  if (middle <= 0) return undefined;
  const argv0 = name.slice(0, middle);
  const pidText = name.slice(middle + 1, last);
  const id = name.slice(last + 1);
  if (!DIGITS.test(pidText) || id.length === 0) return undefined;
  const service = argv0.slice(Math.max(argv0.lastIndexOf('/'), argv0.lastIndexOf('\\')) + 1);
  if (service.length === 0) return undefined;
  return { service, pid: Number(pidText), id };
}

export function openStackProcess(connection: Connection): OpenStackProcess {
  const parsed = parseConnectionName(connection.client_properties?.connection_name);
  return { service: parsed?.service, pid: parsed?.pid, host: connection.peer_host };
}

/** The grouping key: the OpenStack service, or UNKNOWN_SERVICE. */
export function serviceOf(connection: Connection): string {
  return openStackProcess(connection).service ?? UNKNOWN_SERVICE;
}

/**
 * One line for an operator, in Slack mrkdwn: who it is and where, then what identifies the connection, e.g.
 * "`nova-conductor` on `10.0.0.5`, pid 4242, user `nova`, connection `10.0.0.5:51234 -> 10.0.0.1:5672`".
 */
export function describeConnection(connection: Connection): string {
  const { service, pid, host } = openStackProcess(connection);
  const product = connection.client_properties?.product;
  const who = service ? `\`${service}\`` : product ? `a client (\`${product}\`)` : 'a client';
  const parts = [host ? `${who} on \`${host}\`` : who];
  if (pid !== undefined) parts.push(`pid ${pid}`);
  if (connection.user) parts.push(`user \`${connection.user}\``);
  parts.push(`connection \`${connection.name}\``);
  const connectionName = connection.client_properties?.connection_name;
  // A name that is not oslo's may still be the best hint at who the client is.
  if (!service && connectionName) parts.push(`named \`${connectionName}\``);
  return parts.join(', ');
}

/** Connections by OpenStack service, services sorted by name with UNKNOWN_SERVICE last; each list keeps its order. */
export function groupByService<T extends Connection>(connections: Iterable<T>): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const connection of connections) {
    const service = serviceOf(connection);
    const group = groups.get(service);
    if (group) group.push(connection);
    else groups.set(service, [connection]);
  }
  const rank = (s: string) => (s === UNKNOWN_SERVICE ? 1 : 0);
  return new Map([...groups].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0)));
}
