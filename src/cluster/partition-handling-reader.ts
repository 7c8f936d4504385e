/**
 * Owns reading each node's `cluster_partition_handling` through node control, at the slow cadence configuration
 * deserves: a node's mode is kept for some minutes and read again sooner only when the cluster's node set changes
 * (a node joined, left, stopped or started) or the node restarted (its uptime went back). A failed read is retried
 * after a minute, not every sweep. One reader per cluster, shared by the sweep and `/rabbit status`, so the two never
 * run the CLI twice for the same answer. It reads only; judging the modes is the partition-handling check's.
 */
import { NodeControlError } from '../errors.js';
import type { PartitionHandling } from '../management/partition-handling.js';
import type { PartitionHandlingSource } from '../remediation/node-control.js';

/** One running node's mode, or why it could not be read. */
export interface NodePartitionHandling {
  node: string;
  handling?: PartitionHandling;
  error?: string;
  /** Epoch ms of the read this comes from. */
  readAt: number;
}

export interface PartitionHandlingReaderOptions {
  /** How long a node's mode is kept (default 10 minutes). */
  ttlMs?: number;
  /** How long a failed read is kept before it is tried again (default 1 minute). */
  retryMs?: number;
  now?: () => number;
}

interface NodeState {
  name: string;
  running: boolean;
  uptime?: number;
}

interface Cached {
  entry: NodePartitionHandling;
  uptime?: number;
}

export const PARTITION_HANDLING_TTL_MS = 10 * 60_000;
const RETRY_MS = 60_000;

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class PartitionHandlingReader {
  private readonly cache = new Map<string, Cached>();
  private readonly inFlight = new Map<string, Promise<Cached>>();
  private nodeSet = '';

  constructor(
    private readonly source: PartitionHandlingSource,
    private readonly options: PartitionHandlingReaderOptions = {},
  ) {}

  /**
   * Each running node's mode, in the order given (nodes as /api/nodes lists them). A node that is not running has
   * no mode in force and is left out. Throws when no running node could be read, so the caller's part is missing
   * rather than empty.
   */
  async read(nodes: readonly NodeState[]): Promise<NodePartitionHandling[]> {
    const now = (this.options.now ?? Date.now)();
    const nodeSet = nodes
      .map((n) => `${n.name}:${n.running ? 'up' : 'down'}`)
      .sort()
      .join(',');
    if (nodeSet !== this.nodeSet) {
      this.cache.clear();
      this.nodeSet = nodeSet;
    }
    const running = nodes.filter((n) => n.running);
    const entries = await Promise.all(running.map((node) => this.entryOf(node, now)));
    if (running.length > 0 && entries.every((e) => e.error !== undefined)) {
      throw new NodeControlError(entries.map((e) => e.error).join('; '));
    }
    return entries;
  }

  private async entryOf(node: NodeState, now: number): Promise<NodePartitionHandling> {
    const cached = this.cache.get(node.name);
    if (cached && this.fresh(cached, node, now)) return cached.entry;
    let pending = this.inFlight.get(node.name);
    if (!pending) {
      pending = this.readNode(node, now).finally(() => this.inFlight.delete(node.name));
      this.inFlight.set(node.name, pending);
    }
    const read = await pending;
    this.cache.set(node.name, read);
    return read.entry;
  }

  private fresh(cached: Cached, node: NodeState, now: number): boolean {
    const restarted = node.uptime !== undefined && cached.uptime !== undefined && node.uptime < cached.uptime;
    const keep =
      cached.entry.error === undefined
        ? (this.options.ttlMs ?? PARTITION_HANDLING_TTL_MS)
        : (this.options.retryMs ?? RETRY_MS);
    return !restarted && now - cached.entry.readAt < keep;
  }

  private async readNode(node: NodeState, now: number): Promise<Cached> {
    const uptime = node.uptime !== undefined ? { uptime: node.uptime } : {};
    try {
      const handling = await this.source.partitionHandling(node.name);
      return { entry: { node: node.name, handling, readAt: now }, ...uptime };
    } catch (error) {
      return { entry: { node: node.name, error: reason(error), readAt: now }, ...uptime };
    }
  }
}
