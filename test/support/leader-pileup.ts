/**
 * How many quorum queues declared through one node make it lead a pile-up that master-imbalance reports, whatever
 * queues earlier files of the run left spread over the nodes: the check counts every queue of the cluster.
 */
import { z } from 'zod';
import type { ManagementClient } from '../../src/management/management-client.js';

/** Enough for `node` to lead 4/5 of the cluster's queues: past twice a fair share of 3 nodes, with a margin. */
export async function pileUpSize(management: ManagementClient, node: string, atLeast: number): Promise<number> {
  const listed = await management.get(
    '/api/queues',
    z.array(z.looseObject({ node: z.string().nullish(), leader: z.string().nullish() })),
    { columns: 'name,node,leader' },
  );
  const total = listed.length;
  const onNode = listed.filter((q) => (q.node ?? q.leader) === node).length;
  // node leads onNode + k of total + k; 4/5 of it takes k ≥ 4 total − 5 onNode
  return Math.max(atLeast, 4 * total - 5 * onNode + 1);
}
