/**
 * Nodes down (runbook 1.6): a cluster member that /api/nodes lists as not running, and a management URL that does
 * not answer. One critical finding per node (an endpoint whose node is also not running is folded into that
 * node's finding), or per URL when its node was never learnt. Needs only the endpoints: when every URL is down
 * /api/nodes cannot be fetched either, and that is exactly when this check must still speak. It must not report
 * a node the API calls not running while a partition shows it alive on another side: network-partition owns that.
 * When no URL answers at all, one more finding comes first: the order to start the nodes in, from when warren last
 * saw each running (stop-order.ts).
 */
import { formatUtc } from '../../chat/human-format.js';
import type { ManagementNode } from '../../management/schemas.js';
import type { ClusterSnapshot, ManagementEndpoint } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';

const ID = 'node-down';
const MAX_ERROR = 200;

function errorText(endpoint: ManagementEndpoint): string {
  const error = (endpoint.error ?? 'no answer').replace(/\s+/g, ' ').trim();
  return error.length > MAX_ERROR ? `${error.slice(0, MAX_ERROR - 1)}…` : error;
}

/** Nodes that report a partition or are named in one: alive, only cut off from the node that answered. */
function partitioned(nodes: readonly ManagementNode[]): Set<string> {
  const alive = new Set<string>();
  for (const node of nodes) {
    if (node.partitions.length === 0) continue;
    alive.add(node.name);
    for (const other of node.partitions) alive.add(other);
  }
  return alive;
}

/**
 * When no management URL answers: the restart order, from when warren last saw each node running (runbook 1.6).
 * Undefined while some URL answers (the nodes that answer are running, so not everything stopped) or when fewer
 * than two nodes were ever seen (nothing to order).
 */
function startOrder(snapshot: ClusterSnapshot, lastSeen: ReadonlyMap<string, number> | undefined): Finding | undefined {
  if (!lastSeen || snapshot.endpoints.length === 0 || snapshot.endpoints.some((e) => e.reachable)) return undefined;
  const order = [...lastSeen].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  if (order.length < 2) return undefined;
  const [last, lastAt] = order.at(-1) as [string, number];
  const [before] = order.at(-2) as [string, number];
  return {
    check: ID,
    severity: 'critical',
    subject: 'start order',
    summary: `No node answers: if the whole cluster stopped, start \`${last}\` first, the last one seen running (${formatUtc(lastAt)})`,
    details: [
      `Last seen running, in order: ${order.map(([node, at]) => `\`${node}\` ${formatUtc(at)}`).join(', ')}`,
      `\`${last}\` stopped last and holds the newest cluster state: it boots on its own. Every other node waits for it in its boot (10 tries of 30 s by default) and stops if it never comes, so start it first, then the others.`,
      `If \`${last}\` is lost for good: boot \`${before}\` (stopped next to last) without it, \`/rabbit fix force-boot ${before} --lost ${last}\` (\`rabbitmqctl force_boot\`, then start it), start the others, then forget the lost node (forget-node); or forget it first in the files of the stopped \`${before}\`, \`/rabbit fix forget-node ${last} --offline --on ${before}\`, which then starts it.`,
      'If warren only lost its own way to the cluster, the nodes may well be running: check from a host next to them first.',
    ],
    data: { lastStopped: last, order: order.map(([node, at]) => ({ node, lastSeenRunning: at })) },
  };
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  const nodes = snapshot.nodes ?? [];
  const alive = partitioned(nodes);
  const endpointsOf = new Map<string, ManagementEndpoint[]>();
  for (const endpoint of snapshot.endpoints) {
    if (endpoint.reachable) continue;
    const subject = endpoint.node ?? endpoint.url;
    endpointsOf.set(subject, [...(endpointsOf.get(subject) ?? []), endpoint]);
  }
  const findings: Finding[] = [];

  for (const node of nodes) {
    if (node.running || alive.has(node.name)) continue;
    const unreachable = endpointsOf.get(node.name) ?? [];
    endpointsOf.delete(node.name);
    findings.push({
      check: ID,
      severity: 'critical',
      subject: node.name,
      summary: `\`${node.name}\` is not running`,
      details: [
        `Listed by the cluster${node.type ? ` as a ${node.type} node` : ''} but not running`,
        ...unreachable.map((e) => `Its management API at ${e.url} does not answer: ${errorText(e)}`),
      ],
      data: { node: node.name, running: false, urls: unreachable.map((e) => e.url) },
    });
  }

  const running = new Set(nodes.filter((n) => n.running).map((n) => n.name));
  for (const [subject, endpoints] of endpointsOf) {
    const node = endpoints[0]?.node;
    const where = endpoints.map((e) => e.url).join(', ');
    const summary = !node
      ? `Management API at ${where} does not answer`
      : running.has(node)
        ? `\`${node}\` runs but its management API does not answer`
        : `\`${node}\` does not answer (management API down)`;
    findings.push({
      check: ID,
      severity: 'critical',
      subject,
      summary,
      details: endpoints.map((e) => `${e.url}: ${errorText(e)}`),
      data: { node: node ?? null, running: node ? running.has(node) : null, urls: endpoints.map((e) => e.url) },
    });
  }
  findings.sort((a, b) => a.subject.localeCompare(b.subject));
  const order = startOrder(snapshot, context.lastSeenRunning);
  return order ? [order, ...findings] : findings;
}

export const nodeDownCheck = defineCheck({
  id: ID,
  title: 'Nodes down',
  hint:
    'Check the host, then `rabbitmqctl -n NODE status`; start the app with `rabbitmqctl start_app` (or the service). ' +
    'After a whole-cluster stop, start the last node stopped first; if it is lost, run ' +
    '`rabbitmqctl forget_cluster_node --offline NODE` on a survivor.',
  needs: ['endpoints'],
  workflow: 'start-cluster',
  evaluate,
});
