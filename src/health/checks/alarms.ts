/**
 * Resource alarms (runbook 1.8): a memory or disk alarm on any node blocks every publishing connection in the
 * cluster. Owns one critical finding per alarmed node (from /api/nodes, or from the node's own `local-alarms`
 * health endpoint when /api/nodes lacks the fields or lags behind it) and one for the blocked publishers, named by
 * OpenStack service and host so the operator sees who is stuck. High usage below the alarm is resource-usage's.
 */
import { formatBytes, formatCount } from '../../chat/human-format.js';
import type { ManagementNode } from '../../management/schemas.js';
import type { ClusterSnapshot, ConnectionInfo, HealthEndpointResult } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'alarms';
const LISTED_CONNECTIONS = 10;
/** Blocked first: they have tried to publish and are waiting; blocking ones stop at their next publish. */
const STATE_ORDER = new Map([
  ['blocked', 0],
  ['blocking', 1],
]);

/**
 * oslo.messaging names its connections `<argv0>:<pid>:<uuid>`; the service is argv0's base name. Any other client
 * is named by its connection_name, product, or the broker's connection name.
 */
export function describeClient(connection: ConnectionInfo): string {
  const props = connection.client_properties;
  const host = connection.peer_host ? ` on \`${connection.peer_host}\`` : '';
  const oslo = props.connection_name?.match(/^(.+):(\d+):[0-9a-f-]{32,36}$/i);
  if (oslo) {
    const service = (oslo[1] as string).split('/').pop() as string;
    return `\`${service}\`${host} (pid ${oslo[2]})`;
  }
  const name = props.connection_name ?? props.product ?? connection.name;
  return `\`${name}\`${host}`;
}

function nodeAlarm(node: ManagementNode, health: HealthEndpointResult | undefined): Finding | undefined {
  const lines: string[] = [];
  const kinds: string[] = [];
  if (node.mem_alarm) {
    kinds.push('memory');
    if (node.mem_used !== undefined && node.mem_limit !== undefined) {
      lines.push(`Memory: ${formatBytes(node.mem_used)} used, limit ${formatBytes(node.mem_limit)}`);
    }
  }
  if (node.disk_free_alarm) {
    kinds.push('disk');
    if (node.disk_free !== undefined && node.disk_free_limit !== undefined) {
      lines.push(`Disk: ${formatBytes(node.disk_free)} free, limit ${formatBytes(node.disk_free_limit)}`);
    }
  }
  if (kinds.length === 0 && health?.ok !== false) return undefined;
  if (health?.ok === false) {
    lines.push(`Its \`local-alarms\` health check fails${health.reason ? `: ${health.reason}` : ''}`);
  }
  const label =
    kinds.length === 2
      ? 'Memory and disk alarms'
      : kinds[0] === 'memory'
        ? 'Memory alarm'
        : kinds[0] === 'disk'
          ? 'Disk alarm'
          : 'Resource alarm';
  return {
    check: ID,
    severity: 'critical',
    subject: node.name,
    summary: `${label} on \`${node.name}\`: publishers are blocked cluster-wide`,
    details: lines,
    data: {
      node: node.name,
      alarms: kinds,
      mem_used: node.mem_used ?? null,
      mem_limit: node.mem_limit ?? null,
      disk_free: node.disk_free ?? null,
      disk_free_limit: node.disk_free_limit ?? null,
    },
  };
}

function blockedPublishers(connections: readonly ConnectionInfo[]): Finding | undefined {
  const rank = (c: ConnectionInfo) => STATE_ORDER.get(c.state ?? '');
  const stuck = connections
    .filter((c) => rank(c) !== undefined)
    .sort(
      (a, b) =>
        (rank(a) as number) - (rank(b) as number) ||
        describeClient(a).localeCompare(describeClient(b)) ||
        a.name.localeCompare(b.name),
    );
  if (stuck.length === 0) return undefined;
  const blocked = stuck.filter((c) => c.state === 'blocked').length;
  const blocking = stuck.length - blocked;
  const parts = [
    blocked > 0 ? `${formatCount(blocked)} connection${blocked === 1 ? '' : 's'} blocked` : '',
    blocking > 0 ? `${formatCount(blocking)} blocking (stopped at their next publish)` : '',
  ].filter(Boolean);
  const details = stuck
    .slice(0, LISTED_CONNECTIONS)
    .map((c) => `${describeClient(c)} — ${c.state}${c.node ? ` on \`${c.node}\`` : ''}`);
  if (stuck.length > LISTED_CONNECTIONS) details.push(`…and ${formatCount(stuck.length - LISTED_CONNECTIONS)} more`);
  return {
    check: ID,
    severity: 'critical',
    subject: 'blocked-publishers',
    summary: `Publishers blocked by a resource alarm: ${parts.join(', ')}`,
    details,
    data: { blocked, blocking, connections: stuck.map((c) => c.name) },
  };
}

function evaluate(snapshot: ClusterSnapshot): Finding[] {
  const healthOf = new Map<string, HealthEndpointResult>();
  for (const e of snapshot.endpoints) if (e.node && e.health?.alarms) healthOf.set(e.node, e.health.alarms);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const node of snapshot.nodes ?? []) {
    seen.add(node.name);
    const finding = nodeAlarm(node, healthOf.get(node.name));
    if (finding) findings.push(finding);
  }
  // A node missing from /api/nodes but answering its own endpoint still tells about its alarms.
  for (const [name, health] of healthOf) {
    if (seen.has(name) || health.ok) continue;
    const finding = nodeAlarm({ name, running: true, partitions: [] }, health);
    if (finding) findings.push(finding);
  }
  findings.sort((a, b) => a.subject.localeCompare(b.subject));
  const blocked = blockedPublishers(snapshot.connections ?? []);
  return blocked ? [...findings, blocked] : findings;
}

export const alarmsCheck = defineCheck({
  id: ID,
  title: 'Resource alarms',
  hint:
    'Free the resource: drain or purge the biggest queues (memory) or free disk space on the node. As a stopgap ' +
    'raise the limit: Fix… raises the memory watermark of the alarmed nodes until their restart (node control); ' +
    'for disk, `rabbitmqctl set_disk_free_limit`. Publishers resume by themselves once the alarm clears.',
  needs: ['nodes'],
  workflow: 'raise-memory-watermark',
  evaluate,
});
