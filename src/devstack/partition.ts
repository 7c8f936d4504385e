/**
 * Network partitions on the local cluster, for the demo's `partition` fault and the tests: who reports one, and a
 * cut made with erlang:disconnect_node that is checked to have taken. A cut does not always show: in one CI run
 * under load nothing reported a partition within 60 s of it, so a caller that needs a partition waits for one.
 */
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
  /** How long to wait for a node to report the partition before cutting again. */
  retryMs?: number;
  attempts?: number;
  /** Told when a cut showed nothing and is made again. */
  onRetry?: (message: string) => void;
}

/**
 * Cuts node `a` from node `b` with erlang:disconnect_node and resolves with the views once a node reports the
 * partition, cutting again when none does within `retryMs`. Throws when no cut shows.
 */
export async function cutPartition(
  stack: LocalStack,
  a: string,
  b: string,
  { retryMs = 20_000, attempts = 3, onRetry }: CutOptions = {},
): Promise<Map<string, string[]>> {
  const desc = stack.describe();
  const outcomes: string[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) onRetry?.(`no partition ${retryMs} ms after ${outcomes.at(-1)}; cutting again`);
    const cut = await stack.rabbitmqctl(a, ['eval', `erlang:disconnect_node('${b}').`], { timeoutMs: 60_000 });
    outcomes.push(`cut ${attempt} (exit ${cut.code}: ${(cut.stdout || cut.stderr).trim() || 'no output'})`);
    const deadline = Date.now() + retryMs;
    while (Date.now() < deadline) {
      const views = await partitionViews(desc);
      if (views.size > 0) return views;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  throw new Error(`no node reported a partition after ${attempts} cuts of ${a} from ${b}: ${outcomes.join('; ')}`);
}
