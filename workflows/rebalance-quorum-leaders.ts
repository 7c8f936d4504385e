/**
 * `fix rebalance-quorum-leaders` (runbook 1.9, RUNBOOK 4): spreads queue leaders over the running nodes when the
 * master-imbalance check finds them piled on one (its Fix…): `POST /api/rebalance/queues`, the HTTP form of
 * `rabbitmq-queues rebalance all`, which moves quorum leaders (and, before 4.0, mirrored masters). Each moved leader
 * is a leader election: its queue pauses for a moment, so the risk is medium. Verify: the spread, read fresh, is
 * within `thresholds.masterImbalance` of a fair share again.
 * The broker answers the POST at once and rebalances in the background, and a rebalance it skips says so only in its
 * log: one already under way (another operator's, or a click a moment before) holds a cluster-wide lock, and a
 * leader it cannot hand over yet (followers still catching up on fresh queues) stays where it is. So the step asks
 * again while nothing has moved off the busiest node, which is harmless: a rebalance of a spread cluster moves nothing.
 */
import { z } from 'zod';
import { WorkflowRefusedError } from '../src/errors.js';
import { masterImbalanceCheck } from '../src/health/checks/master-imbalance.js';
import type { Finding } from '../src/health/finding.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { pollUntil } from '../src/remediation/poll.js';
import { freshNodes } from '../src/remediation/quorum-replicas.js';
import { defineWorkflow, type WorkflowContext } from '../src/remediation/workflow-definition.js';

/** The broker moves leaders one by one after answering; the spread shows within seconds. */
const VERIFY_MS = 60_000;
/** How long the step waits for the first leaders to move off the busiest node, asking again every REASK_MS. */
const MOVE_MS = 30_000;
const REASK_MS = 10_000;

/** The leader spread now, as the master-imbalance check judges it: its finding, or undefined when spread well. */
async function imbalance(
  context: WorkflowContext,
): Promise<{ finding?: Finding; spread: string; counts: Map<string, number> }> {
  const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
  if (!snapshot.nodes || !snapshot.queues) {
    throw new WorkflowRefusedError(`Could not read the cluster: ${snapshot.errors.nodes ?? snapshot.errors.queues}`);
  }
  const counts = new Map<string, number>(snapshot.nodes.filter((n) => n.running).map((n) => [n.name, 0]));
  for (const q of snapshot.queues) {
    const leader = q.node ?? q.leader;
    if (leader && counts.has(leader)) counts.set(leader, (counts.get(leader) ?? 0) + 1);
  }
  const spread = [...counts].map(([node, n]) => `\`${node}\` ${n}`).join(', ');
  const [finding] = masterImbalanceCheck.evaluate(snapshot, {
    thresholds: context.health.thresholds,
    history: new Map(),
  });
  return { ...(finding ? { finding } : {}), spread, counts };
}

/** How many queues `node` leads now. */
async function ledBy(context: WorkflowContext, node: string): Promise<number> {
  return (await imbalance(context)).counts.get(node) ?? 0;
}

export const rebalanceQuorumLeadersWorkflow = defineWorkflow<Record<string, never>>({
  name: 'rebalance-quorum-leaders',
  description: 'Spread queue leaders over the running nodes (POST /api/rebalance/queues)',
  risk: 'medium',
  usage: '',
  words: z
    .object({
      positionals: z.array(z.string()).max(0, 'rebalance-quorum-leaders takes no arguments'),
      flags: z.strictObject({}, { error: 'rebalance-quorum-leaders takes no flags' }),
    })
    .transform(() => ({})),
  args: z.object({}),
  argsForAlert: () => ({}),

  async plan(context) {
    const { finding, spread } = await imbalance(context);
    if (!finding) {
      throw new WorkflowRefusedError(`The leaders are spread within the imbalance threshold already (${spread}).`);
    }
    return {
      summary: `move queue leaders off \`${String(finding.data?.busiest)}\`: ${finding.summary}`,
      warnings: [
        `Leaders now: ${spread}.`,
        'Each moved leader is an election: its queue pauses for a moment. Unmirrored classic queues do not move.',
      ],
      actions: [{ key: 'rebalance', label: 'rebalance the queue leaders over the running nodes', data: {} }],
      guards: ['at least two nodes are running'],
    };
  },

  async guard(context) {
    const running = (await freshNodes(context.management)).filter((n) => n.running);
    return running.length < 2 ? { reason: 'fewer than two nodes are running', abort: true } : undefined;
  },

  async execute(context) {
    const before = await imbalance(context);
    const busiest = before.finding?.data?.busiest;
    const rebalance = () => context.management.send('POST', '/api/rebalance/queues', { data: {} });
    await rebalance();
    if (typeof busiest !== 'string') return 'rebalance started (the leaders were spread well already)';
    const led = before.counts.get(busiest) ?? 0;
    let asked = 1;
    let lastAsk = Date.now();
    const now = await pollUntil(async () => {
      const count = await ledBy(context, busiest);
      if (count < led) return count;
      if (Date.now() - lastAsk >= REASK_MS) {
        await rebalance();
        asked += 1;
        lastAsk = Date.now();
      }
      return undefined;
    }, MOVE_MS);
    const times = asked > 1 ? ` (asked ${asked} times)` : '';
    return now === undefined
      ? `rebalance started${times}; no leader has left \`${busiest}\` yet (${led})`
      : `rebalance started${times}; \`${busiest}\` leads ${now} now, down from ${led}`;
  },

  async verify(context) {
    let last = { spread: '', counts: new Map() } as Awaited<ReturnType<typeof imbalance>>;
    const balanced = await pollUntil(async () => {
      last = await imbalance(context);
      return last.finding ? undefined : true;
    }, VERIFY_MS);
    return balanced
      ? { ok: true, detail: `leaders now: ${last.spread}` }
      : { ok: false, detail: `still imbalanced: ${last.finding?.summary ?? ''} (${last.spread})` };
  },
});
