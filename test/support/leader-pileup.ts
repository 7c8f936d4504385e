/**
 * Leader pile-ups for the master-imbalance tests, on a shared cluster where earlier files of the run may have left
 * queues behind: the check counts every queue of the cluster, so both the size of a pile-up and whether the cluster
 * is balanced without it depend on those leftovers.
 */
import { connect } from 'amqplib';
import { z } from 'zod';
import type { LocalStackDescription } from '../../src/devstack/index.js';
import type { ManagementClient } from '../../src/management/management-client.js';

const leaders = z.array(z.looseObject({ node: z.string().nullish(), leader: z.string().nullish() }));

/** How many queues each node leads (or, for a classic queue, lives on), over the listed nodes. */
async function ledPerNode(management: ManagementClient, nodes: readonly string[]): Promise<Map<string, number>> {
  const listed = await management.get('/api/queues', leaders, { columns: 'name,node,leader' });
  const led = new Map(nodes.map((n) => [n, 0]));
  for (const q of listed) {
    const node = q.node ?? q.leader ?? '';
    if (led.has(node)) led.set(node, (led.get(node) ?? 0) + 1);
  }
  return led;
}

/** Enough for `node` to lead 4/5 of the cluster's queues: past twice a fair share of 3 nodes, with a margin. */
export async function pileUpSize(management: ManagementClient, node: string, atLeast: number): Promise<number> {
  const listed = await management.get('/api/queues', leaders, { columns: 'name,node,leader' });
  const total = listed.length;
  const onNode = listed.filter((q) => (q.node ?? q.leader) === node).length;
  // node leads onNode + k of total + k; 4/5 of it takes k ≥ 4 total − 5 onNode
  return Math.max(atLeast, 4 * total - 5 * onNode + 1);
}

/**
 * Evens out what the cluster already holds: on every node that leads fewer queues than the busiest, declares
 * quorum queues through that node (leader locator client-local) until it leads as many. Queues left by earlier
 * files, all led by the node their clients used, would otherwise keep an imbalance alert firing that a test means
 * to see resolved. Returns the names it declared, for the caller to delete.
 */
export async function balanceLeaders(
  desc: LocalStackDescription,
  management: ManagementClient,
  prefix: string,
): Promise<string[]> {
  const led = await ledPerNode(
    management,
    desc.nodes.map((n) => n.name),
  );
  const most = Math.max(...led.values());
  const declared: string[] = [];
  for (const node of desc.nodes) {
    const missing = most - (led.get(node.name) ?? 0);
    if (missing === 0) continue;
    const connection = await connect(node.amqpUrl);
    try {
      const channel = await connection.createChannel();
      for (let i = 0; i < missing; i++) {
        const name = `${prefix}.ballast.${node.name}.${i}`;
        await channel.assertQueue(name, {
          durable: true,
          arguments: { 'x-queue-type': 'quorum', 'x-queue-leader-locator': 'client-local' },
        });
        declared.push(name);
      }
    } finally {
      await connection.close();
    }
  }
  return declared;
}

/** The busiest node's count over the least busy one's, as the listing shows it now. */
export async function leaderSpread(desc: LocalStackDescription, management: ManagementClient): Promise<number> {
  const counts = [
    ...(
      await ledPerNode(
        management,
        desc.nodes.map((n) => n.name),
      )
    ).values(),
  ];
  return Math.max(...counts) - Math.min(...counts);
}
