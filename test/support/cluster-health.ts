/**
 * Putting the shared test cluster back together after tests that break it: is it whole, whether a partition has
 * settled, and the restore that heals (the devstack's healPartition, which works for two- and three-way splits) and
 * restarts what is left stale. A safety net for tests that damage the cluster, not a model for the heal-partition workflow (it
 * ignores client connections when choosing what to restart).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { onTestFinished } from 'vitest';
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
        await rejoinAfresh(desc, stack, node.name, seed);
        continue;
      }
      if (!entry?.running || entry.partitions === undefined || !(await managementAnswers(desc, node.managementUrl))) {
        stale.push(node.name);
      }
    }
    // No node running (the whole cluster stopped): each waits in its boot for the others' tables, so one started
    // alone hangs until they come. RabbitMQ's own advice for that case: start them all at once.
    if (!seed) await Promise.all(stale.map((node) => restartRabbitApp(stack, node)));
    else for (const node of stale) await restartRabbitApp(stack, node);
  }
  throw new Error('the cluster is still not whole (all nodes running, no partitions, stats from every node)');
}

/**
 * Restores the cluster once the running test ends, pass or fail, after `first` (a test's own clean-up that must come
 * before). A test hook rather than a `finally`: a restore that fails after the test failed is reported beside the
 * test's error instead of replacing it, and the test's error is the one that says what went wrong.
 */
export function restoreWhenFinished(
  desc: LocalStackDescription,
  stack: LocalStack,
  first?: () => Promise<unknown>,
): void {
  onTestFinished(async () => {
    await first?.();
    await restoreCluster(desc, stack);
  }, 300_000);
}

/**
 * A node whose data is gone (destroyed, or forgotten) back in the cluster as a new member through `seed`, with a
 * member of every quorum queue and a replica of every stream, so that later files find the queues replicated as
 * before instead of alerts about them. Quorum members the cluster still keeps for the node's old self go first:
 * `forget_cluster_node --offline` cannot remove them, and a grow skips a queue that lists the node already, leaving
 * a member that no server stands behind and the queue one node from losing its quorum.
 */
export async function rejoinAfresh(
  desc: LocalStackDescription,
  stack: LocalStack,
  node: string,
  seed: string,
): Promise<void> {
  await queuesCli(desc, seed, ['shrink', node]);
  await stack.joinFresh(node, seed);
  await replicateOnto(desc, node, seed);
}

/** `rabbitmq-queues -n seed …args` of the stack's own series. */
async function queuesCli(desc: LocalStackDescription, seed: string, args: string[]): Promise<void> {
  const [tool, ...toolArgs] = desc.rabbitmq.rabbitmqQueues as [string, ...string[]];
  await run(tool, [...toolArgs, '-n', seed, ...args], { env: { ...process.env, HOME: desc.cookieHome } });
}

async function replicateOnto(desc: LocalStackDescription, node: string, seed: string): Promise<void> {
  const env = { ...process.env, HOME: desc.cookieHome };
  await queuesCli(desc, seed, ['grow', node, 'all']);
  const response = await fetch(
    `${desc.nodes.find((n) => n.name === seed)?.managementUrl}/api/queues?columns=name,vhost,type`,
    {
      headers: { authorization: managementAuthorization(desc) },
    },
  );
  const queues = (await response.json()) as { name: string; vhost: string; type?: string }[];
  // The new members catch up in the background; until they have, stopping a node would cost some queues their
  // quorum, and the quorum check of a later file would say so.
  let critical = '';
  await waitUntil(
    async () => {
      for (const n of desc.nodes) {
        const answer = await fetch(`${n.managementUrl}/api/health/checks/node-is-quorum-critical`, {
          headers: { authorization: managementAuthorization(desc) },
        }).catch((error: Error) => error);
        if (answer instanceof Error || answer.status !== 200) {
          const detail = answer instanceof Error ? answer.message : (await answer.text()).slice(0, 600);
          critical = `${n.name}: ${detail}`;
          return false;
        }
      }
      return true;
    },
    () => `the quorum members on ${node} to catch up (last seen quorum-critical: ${critical})`,
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
