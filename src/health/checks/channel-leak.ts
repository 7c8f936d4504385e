/**
 * Channel leaks (runbook 1.1): a healthy oslo.messaging connection holds one channel; a client that does not close
 * its channels after errors (oslo.messaging bug 1406629) piles up hundreds to thousands on one connection, and the
 * broker's memory and load follow. One warning per connection above `thresholds.channelsPerConnection`, naming the
 * OpenStack service, host and pid from oslo's connection name, so the operator knows what to restart without
 * walking connection → channels → consumers by hand. Judges only; closing the connection is the
 * close-leaky-connections workflow's.
 */
import { formatCount } from '../../chat/human-format.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import type { CheckContext } from '../health-check.js';
import { defineCheck } from '../health-check.js';
import { describeConnection, openStackProcess } from '../openstack-connection.js';

const ID = 'channel-leak';

function evaluate(snapshot: ClusterSnapshot, { thresholds }: CheckContext): Finding[] {
  const findings: Finding[] = [];
  for (const c of snapshot.connections ?? []) {
    if (c.channels <= thresholds.channelsPerConnection) continue;
    const { service, pid, host } = openStackProcess(c);
    const product = c.client_properties.product;
    const who = service ? `\`${service}\`` : product ? `A client (\`${product}\`)` : 'A client';
    const where = [host ? ` on \`${host}\`` : '', pid !== undefined ? ` (pid ${pid})` : ''].join('');
    findings.push({
      check: ID,
      severity: 'warning',
      subject: c.name,
      summary: `${who}${where} holds ${formatCount(c.channels)} channels on one connection`,
      details: [
        describeConnection(c),
        ...(c.node ? [`Connected to \`${c.node}\``] : []),
        `Healthy oslo connections hold 1 channel; the limit is ${formatCount(thresholds.channelsPerConnection)}`,
      ],
      data: {
        name: c.name,
        service: service ?? null,
        host: host ?? null,
        pid: pid ?? null,
        user: c.user ?? null,
        node: c.node ?? null,
        vhost: c.vhost ?? null,
        channels: c.channels,
        connectionName: c.client_properties.connection_name ?? null,
      },
    });
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const channelLeakCheck = defineCheck({
  id: ID,
  title: 'Channel leak',
  hint:
    'Restart the OpenStack component named in the finding: it opens channels without closing them. As a ' +
    'stopgap, close the connection (Fix…, or `DELETE /api/connections/{name}` with an `X-Reason` header); the ' +
    'client reconnects with fresh channels, and the leak starts over until it is restarted or fixed.',
  workflow: 'close-leaky-connections',
  needs: ['connections'],
  evaluate,
});
