/**
 * Putting the shared test cluster back together after tests that break it: is it whole, whether a partition has
 * settled, and the restore that heals (the devstack's healPartition, which works for two- and three-way splits) and
 * restarts what is left stale. A safety net for `finally` blocks, not a model for the heal-partition workflow (it
 * ignores client connections when choosing what to restart).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  cutPartition as cutPartitionOf,
  healPartition,
  type LocalStack,
  type LocalStackDescription,
  managementAuthorization,
  partitionViews,
  restartRabbitApp,
} from '../../src/devstack/index.js';
import { waitUntil } from './wait-until.js';

const run = promisify(execFile);

/** Every node running and nobody reporting a partition, as the first node's management API sees it. */
export async function clusterHealthy(desc: LocalStackDescription): Promise<boolean> {
  const response = await fetch(`${desc.nodes[0]?.managementUrl}/api/nodes`, {
    headers: { authorization: managementAuthorization(desc) },
  }).catch(() => undefined);
  if (!response?.ok) return false;
  // A node that is starting is listed without `partitions`: not whole yet.
  const nodes = (await response.json()) as Array<{ running: boolean; partitions?: string[] }>;
  return nodes.length === desc.nodes.length && nodes.every((n) => n.running && n.partitions?.length === 0);
}

interface ListedNode {
  name: string;
  running: boolean;
  partitions?: string[];
}

async function managementAnswers(desc: LocalStackDescription, base: string): Promise<boolean> {
  const response = await fetch(`${base}/api/overview`, {
    headers: { authorization: managementAuthorization(desc) },
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  return response?.ok === true;
}

/** The node listing of the first node whose management API answers: the first node may be the broken one. */
async function anyNodeListing(desc: LocalStackDescription): Promise<ListedNode[]> {
  for (const node of desc.nodes) {
    const response = await fetch(`${node.managementUrl}/api/nodes`, {
      headers: { authorization: managementAuthorization(desc) },
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (response?.ok) return (await response.json()) as ListedNode[];
  }
  return [];
}

/**
 * Waits until the cluster reports a partition and the views have not changed for `quietMs`: a cut made with
 * erlang:disconnect_node keeps spreading for a few seconds (two sides can become three), and a plan made before it
 * settles is out of date at once. Resolves with the settled views.
 */
export async function settledPartition(
  desc: LocalStackDescription,
  quietMs = 6_000,
  timeoutMs = 90_000,
): Promise<Map<string, string[]>> {
  let last = '';
  let views = new Map<string, string[]>();
  let stableSince = Date.now();
  await waitUntil(
    async () => {
      views = await partitionViews(desc);
      const key = JSON.stringify([...views].sort());
      if (key !== last) {
        last = key;
        stableSince = Date.now();
      }
      return views.size > 0 && Date.now() - stableSince >= quietMs;
    },
    'the partition views to settle',
    timeoutMs,
  );
  return views;
}

/** The devstack's cutPartition, saying on the test's output when a cut showed nothing and was made again. */
export function cutPartition(stack: LocalStack, a: string, b: string): Promise<Map<string, string[]>> {
  return cutPartitionOf(stack, a, b, { onRetry: (message) => console.warn(`cutPartition: ${message}`) });
}

/**
 * Brings the shared cluster back to whole after a test that broke it, whatever state it was left in: heals
 * partitions, and restarts the app of a node that is down, whose management API does not answer, or whose
 * management stats never came back (RabbitMQ 3.10 can list a node restarted during a partition heal without its
 * `partitions` and without its queues' and connections' figures until it is restarted again). A restart that does
 * not boot becomes a kill and a fresh start (restartRabbitApp). A node the cluster no longer lists joins it afresh. Throws when the cluster is still not whole after
 * timeoutMs.
 */
export async function restoreCluster(
  desc: LocalStackDescription,
  stack: LocalStack,
  timeoutMs = 240_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wholeWithin = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (await clusterHealthy(desc)) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  };
  while (Date.now() < deadline) {
    if (await wholeWithin(15_000)) return;
    if ((await partitionViews(desc)).size > 0) {
      await healPartition(stack);
      continue;
    }
    const listed = await anyNodeListing(desc);
    const stale: string[] = [];
    const seed = listed.find((n) => n.running)?.name;
    for (const node of desc.nodes) {
      const entry = listed.find((n) => n.name === node.name);
      // Not a member at all: forgotten (forget-node's test), so it can only join again, afresh.
      if (!entry && seed) {
        await stack.joinFresh(node.name, seed);
        await replicateOnto(desc, node.name);
        continue;
      }
      if (!entry?.running || entry.partitions === undefined || !(await managementAnswers(desc, node.managementUrl))) {
        stale.push(node.name);
      }
    }
    for (const node of stale) await restartRabbitApp(stack, node);
  }
  throw new Error('the cluster is still not whole (all nodes running, no partitions, stats from every node)');
}

/**
 * After a node joined again afresh (its old membership forgotten, which drops its quorum members and, on 4.x, its
 * stream replicas): gives every quorum queue a member on it and every stream a replica, so that later files find
 * the queues replicated as before instead of alerts about them.
 */
export async function replicateOnto(desc: LocalStackDescription, node: string): Promise<void> {
  const seed = desc.nodes.find((n) => n.name !== node)?.name as string;
  const env = { ...process.env, HOME: desc.cookieHome };
  const [queuesTool, ...queuesArgs] = desc.rabbitmq.rabbitmqQueues as [string, ...string[]];
  await run(queuesTool, [...queuesArgs, '-n', seed, 'grow', node, 'all'], { env });
  const response = await fetch(
    `${desc.nodes.find((n) => n.name === seed)?.managementUrl}/api/queues?columns=name,vhost,type`,
    {
      headers: { authorization: managementAuthorization(desc) },
    },
  );
  const queues = (await response.json()) as { name: string; vhost: string; type?: string }[];
  // The new members catch up in the background; until they have, stopping a node would cost some queues their
  // quorum, and the quorum check of a later file would say so.
  await waitUntil(
    async () => {
      for (const n of desc.nodes) {
        const critical = await fetch(`${n.managementUrl}/api/health/checks/node-is-quorum-critical`, {
          headers: { authorization: managementAuthorization(desc) },
        }).catch(() => undefined);
        if (critical?.status !== 200) return false;
      }
      return true;
    },
    `the quorum members on ${node} to catch up`,
    120_000,
  );
  const [streamsTool, ...streamsArgs] = desc.rabbitmq.rabbitmqStreams as [string, ...string[]];
  for (const stream of queues.filter((q) => q.type === 'stream')) {
    // Fails, harmlessly, where the stream already has its replica there (3.x keeps a forgotten node's).
    await run(streamsTool, [...streamsArgs, '-n', seed, 'add_replica', '-p', stream.vhost, stream.name, node], {
      env,
    }).catch(() => undefined);
  }
}
