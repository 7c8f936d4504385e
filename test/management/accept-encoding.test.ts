import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManagementClient } from '../../src/management/management-client.js';
import { PrometheusDropCounters } from '../../src/management/prometheus-broker-counters.js';
import { PrometheusEndpoints } from '../../src/management/prometheus-endpoints.js';
import { PrometheusQueueMetrics } from '../../src/management/prometheus-queue-metrics.js';

const METRICS = `rabbitmq_detailed_queue_messages{vhost="/",queue="q1"} 7
rabbitmq_identity_info{rabbitmq_node="rabbit1@localhost",rabbitmq_cluster="c"} 1
`;

/** A server that answers gzip only when asked for it, like the broker, and keeps each request's headers. */
async function encodingServer() {
  const asked: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    asked.push(req.headers);
    const body = req.url?.startsWith('/metrics') ? METRICS : JSON.stringify({ node: 'rabbit1@localhost' });
    res.setHeader('content-type', req.url?.startsWith('/metrics') ? 'text/plain' : 'application/json');
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      res.setHeader('content-encoding', 'gzip');
      res.end(gzipSync(body));
    } else {
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, asked, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const cluster = (url: string, httpCompression?: boolean) => ({
  name: 'local',
  amqp: [],
  management: [url],
  managementUser: 'monitor',
  managementPassword: 'secret',
  vhost: '/',
  ...(httpCompression === undefined ? {} : { httpCompression }),
});

describe('clusters[].httpCompression', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('asks the management API and the Prometheus endpoint for uncompressed answers by default', async () => {
    const s = await encodingServer();
    server = s.server;
    const client = new ManagementClient(cluster(s.url));
    expect(await client.get('/api/overview', z.looseObject({ node: z.string() }))).toMatchObject({
      node: 'rabbit1@localhost',
    });
    const endpoints = new PrometheusEndpoints([s.url]);
    const metrics = await new PrometheusQueueMetrics(endpoints).read(s.url);
    expect(metrics.queues.get('/')?.get('q1')?.messages).toBe(7);
    // Both readers of the plugin ask through the one endpoints object, so both follow its setting.
    expect((await new PrometheusDropCounters(endpoints).read(s.url)).node).toBe('rabbit1@localhost');
    expect(s.asked.map((h) => h['accept-encoding'])).toEqual(['identity', 'identity', 'identity', 'identity']);
  });

  it('asks for gzip when turned on, and reads the compressed answers', async () => {
    const s = await encodingServer();
    server = s.server;
    const client = new ManagementClient(cluster(s.url, true));
    expect(await client.get('/api/overview', z.looseObject({ node: z.string() }))).toMatchObject({
      node: 'rabbit1@localhost',
    });
    const endpoints = new PrometheusEndpoints([s.url], { compression: true });
    const metrics = await new PrometheusQueueMetrics(endpoints).read(s.url);
    expect(metrics.node).toBe('rabbit1@localhost');
    expect(metrics.queues.get('/')?.get('q1')?.messages).toBe(7);
    expect((await new PrometheusDropCounters(endpoints).read(s.url)).node).toBe('rabbit1@localhost');
    expect(s.asked.map((h) => h['accept-encoding'])).toEqual(Array(4).fill(expect.stringContaining('gzip')));
  });
});
