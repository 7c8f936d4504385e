import { describe, expect, it } from 'vitest';
import { healthRoutes, readiness } from '../../src/http/health-routes.js';
import { startStandaloneServer } from '../../src/http/standalone-server.js';
import { createMetrics } from '../../src/metrics.js';

describe('health routes', () => {
  it('is ready only when every probe answers, and names the failing one', async () => {
    const { registry } = createMetrics();
    const hang = new Promise<boolean>(() => undefined);
    const result = await readiness({
      registry,
      probeTimeoutMs: 100,
      probes: () => [
        { name: 'redis', check: async () => true },
        { name: 'cluster:prod', check: () => hang },
        { name: 'cluster:dr', check: async () => Promise.reject(new Error('ECONNREFUSED')) },
      ],
    });
    expect(result).toEqual({ ready: false, checks: { redis: true, 'cluster:prod': false, 'cluster:dr': false } });
    expect((await readiness({ registry, probes: () => [] })).ready).toBe(false);
  });

  it('serves 503 from /readyz when a dependency is down, 200 from /healthz and 404 elsewhere', async () => {
    const { registry } = createMetrics();
    const server = await startStandaloneServer(
      healthRoutes({ registry, probes: () => [{ name: 'redis', check: async () => false }] }),
      0,
    );
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not ready', ready: false, checks: { redis: false } });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
