import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManagementClient } from '../../src/management/management-client.js';

/** An HTTP server that holds each request until `release()`, counting them by path. */
async function heldServer() {
  const seen: string[] = [];
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    held.push(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ node: 'rabbit@a', erlang_version: '27.2' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = () => {
    for (const answer of held.splice(0)) answer();
  };
  return { server, seen, held, release, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('ManagementClient.getFrom', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('shares an identical request to the same node that is in flight, and asks again once it is answered', async () => {
    const held = await heldServer();
    server = held.server;
    const client = new ManagementClient({
      name: 'local',
      amqp: [],
      management: [held.url],
      managementUser: 'monitor',
      managementPassword: 'secret',
      vhost: '/',
    });
    const schema = z.looseObject({ node: z.string() });
    const burst = Promise.all(Array.from({ length: 10 }, () => client.getFrom(held.url, '/api/overview', schema)));
    const other = client.getFrom(held.url, '/api/whoami', z.looseObject({}));
    await expect.poll(() => held.held.length).toBe(2);
    held.release();
    const answers = await burst;
    await other;
    expect(answers.map((a) => a.node)).toEqual(Array(10).fill('rabbit@a'));
    expect(answers[0]).not.toBe(answers[1]);
    expect(held.seen).toEqual(['/api/overview', '/api/whoami']);

    const next = client.getFrom(held.url, '/api/overview', schema);
    await expect.poll(() => held.held.length).toBe(1);
    held.release();
    await next;
    expect(held.seen).toHaveLength(3);
  });
});
