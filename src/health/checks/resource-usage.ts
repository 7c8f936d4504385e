/**
 * Resource usage (runbook 1.8): a running node whose file descriptors, sockets, Erlang processes or memory are
 * used at or above `thresholds.resourceUsage` of their limit. One warning per node, naming each resource over.
 * Running out of fds or sockets refuses new connections and exhausting processes crashes the node, before any
 * alarm: hence the early warning. Memory is reported here too, even in alarm: the alarm itself is alarms' finding.
 */
import { formatBytes, formatCount, formatPercent } from '../../chat/human-format.js';
import type { ManagementNode } from '../../management/schemas.js';
import type { Finding } from '../finding.js';
import { defineCheck } from '../health-check.js';

const ID = 'resource-usage';

interface Resource {
  key: string;
  label: string;
  used: (n: ManagementNode) => number | undefined;
  limit: (n: ManagementNode) => number | undefined;
  format: (value: number) => string;
}

const RESOURCES: readonly Resource[] = [
  { key: 'fd', label: 'file descriptors', used: (n) => n.fd_used, limit: (n) => n.fd_total, format: formatCount },
  { key: 'sockets', label: 'sockets', used: (n) => n.sockets_used, limit: (n) => n.sockets_total, format: formatCount },
  { key: 'proc', label: 'Erlang processes', used: (n) => n.proc_used, limit: (n) => n.proc_total, format: formatCount },
  { key: 'mem', label: 'memory', used: (n) => n.mem_used, limit: (n) => n.mem_limit, format: formatBytes },
];

interface Usage {
  resource: string;
  used: number;
  limit: number;
  ratio: number;
}

function nodeFinding(node: ManagementNode, threshold: number): Finding | undefined {
  const over: { resource: Resource; usage: Usage }[] = [];
  for (const resource of RESOURCES) {
    const used = resource.used(node);
    const limit = resource.limit(node);
    if (used === undefined || limit === undefined || limit <= 0) continue;
    const ratio = used / limit;
    if (ratio >= threshold) over.push({ resource, usage: { resource: resource.key, used, limit, ratio } });
  }
  if (over.length === 0) return undefined;
  const list = over.map(({ resource, usage }) => `${resource.label} ${formatPercent(usage.used, usage.limit)}`);
  return {
    check: ID,
    severity: 'warning',
    subject: node.name,
    summary: `\`${node.name}\` is near its limits: ${list.join(', ')}`,
    details: over.map(
      ({ resource, usage }) =>
        `${resource.label}: ${resource.format(usage.used)} used of ${resource.format(usage.limit)} ` +
        `(${formatPercent(usage.used, usage.limit)}, warning at ${formatPercent(threshold, 1)})`,
    ),
    data: { node: node.name, resources: over.map((o) => o.usage) },
  };
}

export const resourceUsageCheck = defineCheck({
  id: ID,
  title: 'Resource usage',
  hint:
    'Find what holds them: connections and channels for file descriptors and sockets (look for channel leaks), ' +
    'queues for memory. Raise the limits if the load is legitimate: `LimitNOFILE` in the systemd unit, `+P` in ' +
    '`RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`, `vm_memory_high_watermark` or more RAM.',
  needs: ['nodes'],
  evaluate: (snapshot, { thresholds }) =>
    // Not only running nodes: one on the far side of a partition is listed as not running but still reports.
    (snapshot.nodes ?? [])
      .flatMap((n) => nodeFinding(n, thresholds.resourceUsage) ?? [])
      .sort((a, b) => a.subject.localeCompare(b.subject)),
});
