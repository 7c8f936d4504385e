/**
 * A plain HTTP server for warren's own routes when no Bolt HTTP receiver serves them (console and Socket Mode).
 */
import { createServer, type Server } from 'node:http';
import type { Route } from './health-routes.js';

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startStandaloneServer(routes: Route[], port: number): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = routes.find((r) => r.path === path && r.method === req.method);
    if (route) route.handler(req, res);
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  const actual = await listen(server, port);
  return { port: actual, close: () => closeServer(server) };
}
