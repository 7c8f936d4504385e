/**
 * Network partitions on the local cluster, for the demo's `partition` fault and the tests: who reports one, a
 * cut that is checked to have taken, and the heal by hand that the runbook describes. Two ways to cut, because neither works everywhere:
 * - erlang:disconnect_node, instant, works on RabbitMQ 3.10 (Erlang 25). A cut does not always show: in one CI run
 *   under load nothing reported a partition within 60 s of it, so a caller that needs a partition waits for one.
 * - freezing a node's VM with SIGSTOP until the other nodes declare it down (net_ticktime, which the devstack sets
 *   to 10 s), then thawing it with SIGCONT: it comes back to peers that saw it go, a real partition, as a VM that
 *   paused and resumed does in production. On RabbitMQ 4.0 with Erlang 27 disconnect_node no longer leaves a
 *   partition (every node's `partitions` stayed empty for 36 s after it), so there the freeze is the only way.
 * A 3.10 cut that shows nothing within `retryMs` falls back to the freeze too. Every attempt's outcome is kept for
 * the error, with what each node reported.
 */

import { readFileSync } from 'node:fs';
import { LocalStackError } from './errors.js';
import type { LocalStack, LocalStackDescription } from './types.js';

/** The Basic authorization of the stack's admin user, for its management API. */
export function managementAuthorization(desc: LocalStackDescription): string {
  return `Basic ${Buffer.from(`${desc.username}:${desc.password}`).toString('base64')}`;
}

/** Each node's list of the nodes it is partitioned from, as that node's own management API reports it. */
export async function partitionViews(desc: LocalStackDescription): Promise<Map<string, string[]>> {
  const authorization = managementAuthorization(desc);
  const views = new Map<string, string[]>();
  for (const node of desc.nodes) {
    const response = await fetch(`${node.managementUrl}/api/nodes/${node.name}?columns=name,partitions`, {
      headers: { authorization },
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (!response?.ok) continue;
    const { partitions } = (await response.json()) as { partitions?: string[] };
    if (partitions && partitions.length > 0) views.set(node.name, partitions);
  }
  return views;
}

export interface CutOptions {
  /** How long to wait for a node to report the partition after a disconnect_node before cutting again. */
  retryMs?: number;
  /** disconnect_node attempts before freezing instead (3.10; on 4.0 the cut is always a freeze). */
  attempts?: number;
  /** Told when a cut showed nothing and is made again, or made another way. */
  onRetry?: (message: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `partitionViews` until a node reports a partition or `ms` pass; the views (empty when none showed). */
async function partitionWithin(desc: LocalStackDescription, ms: number): Promise<Map<string, string[]>> {
  const deadline = Date.now() + ms;
  let views = new Map<string, string[]>();
  while (Date.now() < deadline) {
    views = await partitionViews(desc);
    if (views.size > 0) return views;
    await sleep(250);
  }
  return views;
}

interface NodeListing {
  name: string;
  running: boolean;
  net_ticktime?: number;
}

/** /api/nodes as `node`'s own management API lists it, or undefined when it does not answer. */
async function listingFrom(desc: LocalStackDescription, node: string): Promise<NodeListing[] | undefined> {
  const url = desc.nodes.find((n) => n.name === node)?.managementUrl;
  const response = await fetch(`${url}/api/nodes?columns=name,running,net_ticktime`, {
    headers: { authorization: managementAuthorization(desc) },
    signal: AbortSignal.timeout(5_000),
  }).catch(() => undefined);
  if (!response?.ok) return undefined;
  const listing = (await response.json().catch(() => undefined)) as unknown;
  return Array.isArray(listing) ? (listing as NodeListing[]) : undefined;
}

/** The beam pid of `node`, asked of the node itself (the chroot shares the host's pid namespace), checked in /proc. */
async function beamPid(stack: LocalStack, node: string): Promise<number> {
  const asked = await stack.rabbitmqctl(node, ['eval', 'os:getpid().'], { timeoutMs: 60_000 });
  const pid = Number(/"(\d+)"/.exec(asked.stdout)?.[1]);
  let cmdline = '';
  try {
    if (Number.isInteger(pid)) cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // Gone already: refused below.
  }
  if (!cmdline.includes('beam')) {
    throw new LocalStackError(
      'warren_devstack_node_failed',
      `could not find ${node}'s Erlang VM to freeze (os:getpid() gave exit ${asked.code}: ${(asked.stdout || asked.stderr).trim() || 'no output'})`,
    );
  }
  return pid;
}

/**
 * Freezes `frozen`'s VM with SIGSTOP until `witness` lists it as not running (its net_ticktime passed without a
 * tick), then thaws it with SIGCONT, always, even when the wait fails. Says what it waited for and what it saw.
 */
async function freezeUntilSeenDown(stack: LocalStack, witness: string, frozen: string): Promise<string> {
  const desc = stack.describe();
  const before = await listingFrom(desc, witness);
  const ticktime = before?.find((n) => n.name === witness)?.net_ticktime ?? 60;
  // A peer is declared down between 0.75 and 1.25 net_ticktime after its last tick; allow for a loaded machine.
  const waitMs = Math.round(ticktime * 1_250) + 30_000;
  const pid = await beamPid(stack, frozen);
  const started = Date.now();
  process.kill(pid, 'SIGSTOP');
  let seen = 'no answer';
  let down = false;
  try {
    while (Date.now() - started < waitMs) {
      const listing = await listingFrom(desc, witness);
      const entry = listing?.find((n) => n.name === frozen);
      seen = listing ? `running: ${entry?.running}` : 'no answer';
      if (entry && !entry.running) {
        down = true;
        break;
      }
      await sleep(500);
    }
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const held = `${Math.round((Date.now() - started) / 1000)} s`;
  if (!down) {
    return `froze ${frozen} (pid ${pid}) for ${held}, but ${witness} never listed it down (net_ticktime ${ticktime} s; last: ${seen}); thawed`;
  }
  return `froze ${frozen} (pid ${pid}) until ${witness} listed it down after ${held} (net_ticktime ${ticktime} s); thawed`;
}

/** What each node reports now, for an error message: its own `partitions`, or that its API did not answer. */
async function whatEachNodeSaw(desc: LocalStackDescription): Promise<string> {
  const views = await partitionViews(desc);
  return desc.nodes
    .map(
      (n) =>
        `${n.name}: ${views.has(n.name) ? `partitioned from ${views.get(n.name)?.join(', ')}` : 'no partition reported (or no answer)'}`,
    )
    .join('; ');
}

/**
 * Cuts node `a` from node `b` and resolves with the views once a node reports the partition. On RabbitMQ 3.x it
 * cuts with erlang:disconnect_node, again when nothing shows within `retryMs`, up to `attempts` times; on 4.x, or
 * when those showed nothing, it freezes `b` until `a` sees it down and thaws it (twice at most). Throws with every
 * attempt's outcome and what each node reported when no cut shows.
 */
export async function cutPartition(
  stack: LocalStack,
  a: string,
  b: string,
  { retryMs = 20_000, attempts = 3, onRetry }: CutOptions = {},
): Promise<Map<string, string[]>> {
  const desc = stack.describe();
  const outcomes: string[] = [];
  const disconnects = desc.rabbitmq.series.startsWith('3.') ? attempts : 0;
  for (let attempt = 1; attempt <= disconnects; attempt++) {
    if (attempt > 1) onRetry?.(`no partition ${retryMs} ms after ${outcomes.at(-1)}; cutting again`);
    const cut = await stack.rabbitmqctl(a, ['eval', `erlang:disconnect_node('${b}').`], { timeoutMs: 60_000 });
    outcomes.push(`disconnect ${attempt} (exit ${cut.code}: ${(cut.stdout || cut.stderr).trim() || 'no output'})`);
    const views = await partitionWithin(desc, retryMs);
    if (views.size > 0) return views;
  }
  if (outcomes.length > 0) onRetry?.(`no partition ${retryMs} ms after ${outcomes.at(-1)}; freezing ${b} instead`);
  for (let freeze = 1; freeze <= 2; freeze++) {
    // A freeze that cannot start (the VM not found) is an outcome to report with the others, not a different error.
    const froze = await freezeUntilSeenDown(stack, a, b).catch((error: Error) => `failed: ${error.message}`);
    outcomes.push(`freeze ${freeze}: ${froze}`);
    // The thawed node finds its peers gone and reconnects: each side then reports the other within seconds.
    const views = await partitionWithin(desc, retryMs);
    if (views.size > 0) return views;
    if (freeze === 1) onRetry?.(`no partition ${retryMs} ms after ${outcomes.at(-1)}; freezing again`);
  }
  throw new LocalStackError(
    'warren_devstack_node_failed',
    `no node reported a partition after cutting ${a} from ${b} (RabbitMQ ${desc.rabbitmq.series}): ${outcomes.join('; ')}. Now: ${await whatEachNodeSaw(desc)}`,
  );
}

/**
 * Restarts a node's rabbit app and waits for it to finish booting. A node restarted while the cluster is split can
 * hang in its boot for minutes (seen on RabbitMQ 3.10 with Erlang 25: the log stops after peer discovery, then
 * shows the global hang workaround, and `start_app` still answers 0 because a boot is under way). Such a node, or
 * one whose stop or start fails, is killed with SIGKILL and started again, which boots it cleanly.
 */
export async function restartRabbitApp(stack: LocalStack, node: string): Promise<void> {
  const stopped = await stack.rabbitmqctl(node, ['stop_app'], { timeoutMs: 60_000 });
  const started = stopped.code === 0 && (await stack.rabbitmqctl(node, ['start_app'], { timeoutMs: 60_000 }));
  const booted =
    started && started.code === 0 && (await stack.rabbitmqctl(node, ['await_startup'], { timeoutMs: 90_000 }));
  if (booted && booted.code === 0) return;
  await stack.killNode(node);
  await stack.startNode(node);
}

/**
 * Heals a partition by hand, as the runbook says: restarts the rabbit app on the node that sees the most others as
 * partitioned (it is on the smallest side), one round at a time, reading the views again after each restart. One
 * restart is not always enough: a cut can spread into a three-way split, and RabbitMQ 3.10 can keep the partition on
 * the other side until a node there restarts too. Answers the nodes restarted, in order.
 */
export async function healPartition(stack: LocalStack): Promise<string[]> {
  const desc = stack.describe();
  const restarted: string[] = [];
  for (let round = 0; round < 3; round++) {
    const views = await partitionViews(desc);
    if (views.size === 0) return restarted;
    const [loser] = [...views.entries()].sort((a, b) => b[1].length - a[1].length)[0] as [string, string[]];
    await restartRabbitApp(stack, loser);
    restarted.push(loser);
    const until = Date.now() + 60_000;
    while ((await partitionViews(desc)).has(loser)) {
      if (Date.now() > until) {
        throw new LocalStackError(
          'warren_devstack_node_failed',
          `${loser} still reports a partition 60 s after its restart`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return restarted;
}
