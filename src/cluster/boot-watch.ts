/**
 * Owns asking node control whether the nodes that do not run are booting (`rabbitmq-diagnostics is_booting`), and
 * since when this warren has seen each one booting: the broker keeps no boot start time that the CLI tells, and a
 * boot is "hung" only by how long it lasts. One watch per cluster, shared by the sweeps. The time is kept in memory:
 * after a restart of warren a boot's clock starts again, which can only delay the alert, never raise a false one.
 */
import type { NodeControl } from '../remediation/node-control.js';

/** A node whose rabbit application is booting, and since when it has been seen booting. */
export interface NodeBoot {
  node: string;
  /** Epoch ms of the first sweep that found it booting, in an unbroken run of such sweeps. */
  since: number;
}

/** A boot is hung only after minutes: asking each stopped node every 15 s spares a CLI run per node per sweep. */
export const BOOT_ASK_EVERY_MS = 15_000;

export class BootWatch {
  private readonly since = new Map<string, number>();
  private readonly answers = new Map<string, { at: number; booting: boolean }>();

  constructor(
    private readonly control: Pick<NodeControl, 'booting'>,
    private readonly askEveryMs = BOOT_ASK_EVERY_MS,
  ) {}

  /**
   * The booting nodes among `nodes` (those not running). A node whose VM does not answer is not booting (it is
   * down: node-down says so); a node no longer asked, or no longer booting, starts a new clock next time.
   */
  async read(nodes: readonly string[], now: number): Promise<NodeBoot[]> {
    const answers = await Promise.all(nodes.map(async (node) => ({ node, booting: await this.ask(node, now) })));
    for (const node of this.answers.keys()) if (!nodes.includes(node)) this.answers.delete(node);
    const booting = new Set(answers.filter((a) => a.booting).map((a) => a.node));
    for (const node of this.since.keys()) if (!booting.has(node)) this.since.delete(node);
    for (const node of booting) if (!this.since.has(node)) this.since.set(node, now);
    return [...booting].sort().map((node) => ({ node, since: this.since.get(node) as number }));
  }

  private async ask(node: string, now: number): Promise<boolean> {
    const last = this.answers.get(node);
    if (last && now - last.at < this.askEveryMs) return last.booting;
    const booting = await this.control.booting(node).catch(() => false);
    this.answers.set(node, { at: now, booting });
    return booting;
  }
}
