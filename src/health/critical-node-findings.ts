/**
 * Findings for nodes that one of the per-node health endpoints (`node-is-mirror-sync-critical`,
 * `node-is-quorum-critical`) declares unsafe to stop. Each endpoint judges only the node that serves it, so the
 * snapshot asks every management URL; this turns the failed answers into one critical finding per node.
 */
import type { ClusterSnapshot } from './cluster-snapshot.js';
import type { Finding } from './finding.js';

type CriticalEndpoint = 'mirrorSyncCritical' | 'quorumCritical';

const ENDPOINT_NAMES: Record<CriticalEndpoint, string> = {
  mirrorSyncCritical: 'node-is-mirror-sync-critical',
  quorumCritical: 'node-is-quorum-critical',
};

export function criticalNodeFindings(
  snapshot: ClusterSnapshot,
  check: string,
  endpoint: CriticalEndpoint,
  text: { summary: (node: string) => string; advice: string },
): Finding[] {
  const findings: Finding[] = [];
  for (const e of snapshot.endpoints) {
    const result = e.health?.[endpoint];
    if (result?.ok !== false) continue;
    const node = e.node ?? e.url;
    findings.push({
      check,
      severity: 'critical',
      subject: `node:${node}`,
      summary: text.summary(node),
      details: [
        `Its \`${ENDPOINT_NAMES[endpoint]}\` health check fails${result.reason ? `: ${result.reason}` : ''}`,
        text.advice,
      ],
      data: { node, url: e.url },
    });
  }
  return findings;
}
