/**
 * Each node's Erlang version, for `/rabbit status`. Only a node's own /api/overview tells it (the node listing does
 * not), so knowing it costs one request per management URL. A node's Erlang cannot change without a restart, so an
 * answer is kept for as long as the node runs the boot it came from; a burst of status commands then asks the
 * brokers nothing for it.
 */
import type { z } from 'zod';
import { type ManagementNode, nodeOverviewSchema } from '../management/schemas.js';

/** The part of the management client this needs. */
export interface NodeOverviewSource {
  readonly baseUrls: readonly string[];
  getFrom<S extends z.ZodType>(base: string, path: string, schema: S): Promise<z.output<S>>;
}

/**
 * How far two readings of one boot's start may differ: `uptime` comes with the node's stats, emitted every few
 * seconds, so now − uptime moves by that much between reads. A restart moves it by the whole previous uptime.
 */
const SAME_BOOT_MS = 30_000;

/**
 * How long a running node no URL told about (its URL failed, or none of the configured URLs is its own) is left
 * unasked: a failed URL may answer next time, but a burst must not ask every URL once per command.
 */
const UNTOLD_RETRY_MS = 60_000;

interface Known {
  bootedAt: number;
  /** Absent when no URL told this node's version at this boot. */
  version?: string;
  askedAt: number;
}

export class ErlangVersions {
  private readonly known = new Map<string, Known>();
  private asking?: Promise<void>;

  constructor(
    private readonly source: NodeOverviewSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Erlang version of each of `nodes` that runs and told it, asking the URLs again only when it is needed. */
  async of(nodes: readonly ManagementNode[]): Promise<Map<string, string>> {
    const running = nodes.filter((n) => n.running && n.uptime !== undefined);
    if (running.some((n) => this.stale(n))) await this.ask(running);
    const versions = new Map<string, string>();
    for (const node of running) {
      const known = this.known.get(node.name);
      if (known?.version !== undefined && !this.stale(node)) versions.set(node.name, known.version);
    }
    return versions;
  }

  private bootOf(node: ManagementNode): number {
    return this.now() - (node.uptime ?? 0);
  }

  private stale(node: ManagementNode): boolean {
    const known = this.known.get(node.name);
    if (!known || Math.abs(known.bootedAt - this.bootOf(node)) > SAME_BOOT_MS) return true;
    return known.version === undefined && this.now() - known.askedAt > UNTOLD_RETRY_MS;
  }

  /** Every URL's own /api/overview, once for all the commands that need it at the same time. */
  private ask(running: readonly ManagementNode[]): Promise<void> {
    this.asking ??= this.askEveryUrl(running).finally(() => {
      this.asking = undefined;
    });
    return this.asking;
  }

  private async askEveryUrl(running: readonly ManagementNode[]): Promise<void> {
    const answers = await Promise.all(
      this.source.baseUrls.map((url) =>
        this.source.getFrom(url, '/api/overview', nodeOverviewSchema).catch(() => undefined),
      ),
    );
    const told = new Map<string, string>();
    for (const a of answers) if (a?.erlang_version) told.set(a.node, a.erlang_version);
    const askedAt = this.now();
    for (const node of running) {
      const version = told.get(node.name);
      this.known.set(node.name, { bootedAt: this.bootOf(node), askedAt, ...(version ? { version } : {}) });
    }
  }
}
