/**
 * warren's own HTTP endpoints: `/healthz` (the process is alive), `/readyz` (Redis answers and at least one
 * management endpoint of every cluster answers) and `/metrics` (Prometheus text). They are plain route
 * definitions so that the Bolt HTTP receiver and the standalone server serve the very same handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface Route {
  path: string;
  method: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface ReadinessProbe {
  name: string;
  check(): Promise<boolean>;
}

export interface HealthRouteDeps {
  registry: Registry;
  probes: () => ReadinessProbe[];
  /** Upper bound for one readiness probe, so a hung dependency makes /readyz fail instead of hang. */
  probeTimeoutMs?: number;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function withTimeout(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([check.catch(() => false), timeout]).finally(() => clearTimeout(timer));
}

export async function readiness(deps: HealthRouteDeps): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const probes = deps.probes();
  const results = await Promise.all(probes.map((p) => withTimeout(p.check(), deps.probeTimeoutMs ?? 3000)));
  const checks = Object.fromEntries(probes.map((p, i) => [p.name, results[i] as boolean]));
  return { ready: probes.length > 0 && results.every(Boolean), checks };
}

export function healthRoutes(deps: HealthRouteDeps): Route[] {
  return [
    { path: '/healthz', method: 'GET', handler: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      path: '/readyz',
      method: 'GET',
      handler: (_req, res) => {
        readiness(deps).then(
          (result) =>
            sendJson(res, result.ready ? 200 : 503, { status: result.ready ? 'ready' : 'not ready', ...result }),
          () => sendJson(res, 503, { status: 'not ready' }),
        );
      },
    },
    {
      path: '/metrics',
      method: 'GET',
      handler: (_req, res) => {
        deps.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': deps.registry.contentType });
            res.end(text);
          },
          () => sendJson(res, 500, { error: 'metrics unavailable' }),
        );
      },
    },
  ];
}
