/**
 * `fix grow-quorum-queues <node>` (RUNBOOK 4): adds the missing member on `node` to the quorum queues that have none
 * there, as the quorum-members check reports them (its Fix…): the trace of a node that was reset or joined after
 * the queues were declared. Queues go in batches; before each batch the node is re-read: still in the cluster and
 * running, else the run aborts (adding members to a node on its way out would make things worse). Each queue is
 * re-read before its member is added, so a queue grown meanwhile says "already a member". Verify: every queue has
 * its member on the node and an online leader. Risk medium: a new member copies the queue's log from the leader,
 * which costs the leader disk and network I/O while it catches up, but nothing is lost.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { quorumMembersCheck } from '../src/health/checks/quorum-members.js';
import { membershipGaps, trafficSummary } from '../src/health/quorum-membership.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { freshQueue } from '../src/remediation/broker-state.js';
import { pollUntil } from '../src/remediation/poll.js';
import {
  addQuorumMember,
  batchMembers,
  freshNodes,
  MEMBER_BATCH,
  type MemberBatch,
  memberBatches,
  unlistedNote,
} from '../src/remediation/quorum-replicas.js';
import { defineWorkflow, type PlannedAction } from '../src/remediation/workflow-definition.js';

interface Args {
  node: string;
}

const VERIFY_MS = 30_000;

const batch = (action: PlannedAction) => action.data as unknown as MemberBatch;
const NAME_THE_NODE = 'name the node to add members on, e.g. rabbit@host-3';
export const NODE_ARG = z.string().regex(/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/, 'a node is named like rabbit@host');

export const growQuorumQueuesWorkflow = defineWorkflow<Args>({
  name: 'grow-quorum-queues',
  description: 'Add the missing member on a node to the quorum queues that have none there',
  risk: 'medium',
  usage: '<node>',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, NAME_THE_NODE),
      flags: z.strictObject({}, { error: 'grow-quorum-queues takes no flags' }),
    })
    .transform(({ positionals }) => ({ node: positionals[0] })),
  args: z.object({ node: z.string({ error: NAME_THE_NODE }).pipe(NODE_ARG) }),
  // The alert's largest group of queues missing a member on one node.
  argsForAlert: (alert) => {
    const node = alert.findings.find((f) => f.check === quorumMembersCheck.id && f.data?.gap === 'missing')?.data?.node;
    return typeof node === 'string' ? { node } : {};
  },

  async plan(context, args) {
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    if (!snapshot.nodes || !snapshot.queues) {
      throw new WorkflowRefusedError(`Could not read the cluster: ${snapshot.errors.nodes ?? snapshot.errors.queues}`);
    }
    const node = snapshot.nodes.find((n) => n.name === args.node);
    if (!node) throw new WorkflowRefusedError(`\`${args.node}\` is not in cluster ${context.cluster}.`);
    if (!node.running) throw new WorkflowRefusedError(`\`${args.node}\` is not running: start it first.`);
    const gaps = membershipGaps(snapshot.nodes, snapshot.queues, context.health.thresholds.quorumTargetSize);
    const queues = gaps
      .filter((g) => (g.gap === 'missing' && g.node === args.node) || g.gap === 'below-target')
      .flatMap((g) => g.queues)
      .filter((q) => !q.members.includes(args.node));
    const unique = [...new Map(queues.map((q) => [`${q.vhost}/${q.name}`, q])).values()];
    if (unique.length === 0) {
      throw new WorkflowRefusedError(`No quorum queue lacks a member on \`${args.node}\`: nothing to grow.`);
    }
    const chosen = unique.slice(0, context.remediation.maxItemsPerRun);
    const actions = memberBatches(args.node, chosen, (names) => `add a member on \`${args.node}\` to ${names}`);
    return {
      summary: `add a member on \`${args.node}\` to ${formatCount(chosen.length)} quorum queue(s): ${trafficSummary(chosen).line}, in ${actions.length} batch(es) of up to ${MEMBER_BATCH}`,
      warnings: [
        'Each new member copies its queue’s log from the leader: expect disk and network I/O on the leaders while it catches up.',
      ],
      actions,
      guards: [
        `before each batch, \`${args.node}\` is still in the cluster and running`,
        'before each queue, it still exists and still has no member on the node (else "already a member")',
      ],
      ...(unique.length > chosen.length ? { leftOut: unique.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const { node } = batch(action);
    const listed = (await freshNodes(context.management)).find((n) => n.name === node);
    if (!listed) return { reason: `\`${node}\` is no longer in the cluster`, abort: true };
    if (!listed.running) return { reason: `\`${node}\` is not running`, abort: true };
    return undefined;
  },

  async execute(context, action) {
    const { node, queues } = batch(action);
    const results = { added: 0, already: 0, gone: 0 };
    // A queue listed without members (no leader yet) is read again, never taken for one lacking the member.
    const members = batchMembers(context.management);
    for (const { vhost, name } of queues) {
      const listed = await members.read(vhost, name);
      if (!listed) continue;
      if (listed.length === 0) results.gone++;
      else if (listed.includes(node)) results.already++;
      else {
        await addQuorumMember(context.management, vhost, name, node);
        results.added++;
      }
    }
    return `added ${results.added} member(s) on \`${node}\`${results.already ? `, ${results.already} already a member` : ''}${results.gone ? `, ${results.gone} queue(s) gone` : ''}${unlistedNote(members.unlisted())}`;
  },

  async verify(context, done) {
    const pending = done.flatMap((a) => batch(a).queues.map((q) => ({ ...q, node: batch(a).node })));
    let problems: string[] = [];
    await pollUntil(async () => {
      problems = [];
      for (const { vhost, name, node } of pending) {
        const queue = await freshQueue(context.management, vhost, name);
        if (!queue) continue;
        if (!queue.members?.includes(node)) problems.push(`\`${name}\` has no member on \`${node}\``);
        else if (!queue.leader || !queue.online?.includes(queue.leader)) {
          problems.push(`\`${name}\` has no online leader`);
        }
      }
      return problems.length === 0 ? true : undefined;
    }, VERIFY_MS);
    return problems.length === 0
      ? { ok: true, detail: `${formatCount(pending.length)} queue(s) have their member and an online leader` }
      : { ok: false, detail: problems.join('; ') };
  },
});
