/**
 * `fix rebalance-quorum-leaders` (runbook 1.9, RUNBOOK 4): spreads queue leaders over the running nodes when the
 * master-imbalance check finds them piled on one (its Fix…): `POST /api/rebalance/queues`, the HTTP form of
 * `rabbitmq-queues rebalance all`, which moves quorum leaders (and, before 4.0, mirrored masters). Each moved leader
 * is a leader election: its queue pauses for a moment, so the risk is medium. Verify: the spread, read fresh, is
 * within `thresholds.masterImbalance` of a fair share again.
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

/** The leader spread now, as the master-imbalance check judges it: its finding, or undefined when spread well. */
async function imbalance(context: WorkflowContext): Promise<{ finding?: Finding; spread: string }> {
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
  return { ...(finding ? { finding } : {}), spread };
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
    await context.management.send('POST', '/api/rebalance/queues', { data: {} });
    return 'rebalance started';
  },

  async verify(context) {
    let last = { spread: '' } as Awaited<ReturnType<typeof imbalance>>;
    const balanced = await pollUntil(async () => {
      last = await imbalance(context);
      return last.finding ? undefined : true;
    }, VERIFY_MS);
    return balanced
      ? { ok: true, detail: `leaders now: ${last.spread}` }
      : { ok: false, detail: `still imbalanced: ${last.finding?.summary ?? ''} (${last.spread})` };
  },
});
