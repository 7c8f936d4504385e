/**
 * Disabled heartbeats (runbook 1.7): a connection whose negotiated `timeout` is 0 sends no heartbeats, so a dead
 * peer is noticed only when TCP gives up (about 11 minutes on Linux) and an idle connection can be cut silently by
 * a firewall or load balancer; a timeout above `thresholds.heartbeatMaxSeconds` is about as bad. The client's answer
 * wins the negotiation, so the fix is in the client's config. Info, ONE finding per OpenStack service (every
 * process of a service shares its config), listing its hosts and how many connections. Connections without a
 * `timeout` (direct Erlang clients such as shovels) are not judged. The Fix… (`close-heartbeatless-connections`)
 * only closes the connections, a stopgap: the client reconnects with the same config.
 */
import { formatCount } from '../../chat/human-format.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { describeConnection, groupByService, UNKNOWN_SERVICE } from '../openstack-connection.js';

const ID = 'heartbeats';
/** Connections described one by one in a finding; the rest are counted. */
const LISTED = 5;
/** Hosts and connection names kept in a finding's data: enough for a workflow, bounded for the alert store. */
const IN_DATA = 100;

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/**
 * The check's rule, shared with the workflow that closes such connections: a negotiated `timeout` of 0 (heartbeats
 * off) or above `maxSeconds`. No `timeout` at all is not judged.
 */
export function heartbeatsTooWeak<C extends { timeout?: number }>(
  connection: C,
  maxSeconds: number,
): connection is C & { timeout: number } {
  return connection.timeout !== undefined && (connection.timeout === 0 || connection.timeout > maxSeconds);
}

function evaluate(snapshot: ClusterSnapshot, { thresholds }: CheckContext): Finding[] {
  const max = thresholds.heartbeatMaxSeconds;
  const judged = (snapshot.connections ?? []).filter((c) => heartbeatsTooWeak(c, max));
  const findings: Finding[] = [];
  for (const [service, connections] of groupByService(judged)) {
    const sorted = [...connections].sort((a, b) => a.name.localeCompare(b.name));
    const hosts = [...new Set(sorted.map((c) => c.peer_host ?? 'unknown host'))].sort();
    const timeouts = [...new Set(sorted.map((c) => c.timeout))].sort((a, b) => a - b);
    const off = timeouts.every((t) => t === 0);
    const long = timeouts.every((t) => t > 0);
    const what = off
      ? 'heartbeats disabled'
      : long
        ? `heartbeat timeouts above ${max} s`
        : `heartbeats off or above ${max} s`;
    const n = sorted.length;
    const count = `${formatCount(n)} connection${n === 1 ? '' : 's'}`;
    const who = service === UNKNOWN_SERVICE ? 'Clients without an oslo connection name' : `\`${service}\``;
    const details = sorted
      .slice(0, LISTED)
      .map(
        (c) =>
          `${describeConnection(c)}: ${c.timeout === 0 ? 'heartbeat off' : `heartbeat ${formatCount(c.timeout)} s`}`,
      );
    if (n > LISTED) details.push(`…and ${formatCount(n - LISTED)} more`);
    findings.push({
      check: ID,
      severity: 'info',
      subject: `service:${service}`,
      summary: `${who}: ${count} with ${what}, from ${code(hosts.slice(0, LISTED))}${hosts.length > LISTED ? ` and ${formatCount(hosts.length - LISTED)} more hosts` : ''}`,
      details,
      data: {
        service,
        connections: n,
        hosts: hosts.slice(0, IN_DATA),
        timeouts,
        names: sorted.slice(0, IN_DATA).map((c) => c.name),
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const heartbeatsCheck = defineCheck({
  id: ID,
  title: 'Heartbeats disabled',
  hint:
    'Set `heartbeat_timeout_threshold` (oslo default 60) in the `[oslo_messaging_rabbit]` section of the ' +
    "service's config and restart it: the client's value wins the negotiation, and without heartbeats a dead peer " +
    'is noticed only after ~11 min and idle connections can be cut by firewalls. Fix… only closes the ' +
    'connections, a stopgap that clears dead peers: live clients reconnect with the same config and this alert ' +
    'comes back.',
  workflow: 'close-heartbeatless-connections',
  needs: ['connections'],
  evaluate,
});
