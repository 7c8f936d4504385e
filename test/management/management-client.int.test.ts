import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { ManagementApiError, ManagementUnreachableError } from '../../src/errors.js';
import { ManagementClient } from '../../src/management/management-client.js';

describe('ManagementClient against the real cluster', () => {
  const stack = inject('stack');
  const urls = stack.nodes.map((n) => n.managementUrl);
  const cluster = (management: string[], password = stack.password) => ({
    name: 'local',
    amqp: [],
    management,
    managementUser: stack.username,
    managementPassword: password,
    vhost: '/',
  });

  it('lists the three nodes with the fields the checks need', async () => {
    const nodes = await new ManagementClient(cluster(urls)).nodes();
    expect(nodes.map((n) => n.name).sort()).toEqual(stack.nodes.map((n) => n.name).sort());
    for (const node of nodes) {
      expect(node).toMatchObject({ running: true, partitions: [], mem_alarm: false, disk_free_alarm: false });
      expect(node.fd_total).toBeGreaterThan(0);
    }
  });

  it('moves on to the next node when one is down, and remembers the one that answered', async () => {
    // A node that accepts connections and drops them at once, counting them: it sees only the first request
    const attempts: number[] = [];
    const dead = createServer((socket) => {
      attempts.push(Date.now());
      socket.destroy();
    });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = dead.address() as AddressInfo;
      const client = new ManagementClient(cluster([`http://127.0.0.1:${port}`, urls[1] as string]));
      const overview = await client.overview();
      expect(overview.rabbitmq_version?.startsWith(`${inject('stack').rabbitmq.series}.`)).toBe(true);
      expect(overview.object_totals?.queues).toBeGreaterThanOrEqual(0);
      expect(attempts).toHaveLength(1);
      await client.nodes();
      await client.overview();
      expect(await client.ping()).toBe(true);
      expect(attempts, 'requests after the first went to the node that answered').toHaveLength(1);
    } finally {
      await new Promise((resolve) => dead.close(resolve));
    }
  });

  it('throws a typed 401 at once on bad credentials, without the password in the message', async () => {
    const client = new ManagementClient(cluster(urls, 'wrong-password-123'));
    const error = await client.nodes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManagementApiError);
    expect((error as ManagementApiError).status).toBe(401);
    expect((error as Error).message).not.toContain('wrong-password-123');
  });

  it('names every URL it tried when no node answers', async () => {
    const client = new ManagementClient(cluster(['http://127.0.0.1:9', 'http://127.0.0.1:7']), { timeoutMs: 2000 });
    const error = await client.nodes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManagementUnreachableError);
    expect((error as Error).message).toMatch(
      /^no management endpoint of cluster local answered: http:\/\/127\.0\.0\.1:9: .*; http:\/\/127\.0\.0\.1:7: /,
    );
    expect(await client.ping()).toBe(false);
  });
});
