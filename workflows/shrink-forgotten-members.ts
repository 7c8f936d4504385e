/**
 * `fix shrink-forgotten-members <node>` (RUNBOOK 4): removes the quorum queue members on a node that is no longer
 * in the cluster (forgotten without its members being shrunk, or renamed), as the quorum-forgotten-members check
 * reports them (its Fix…). Such a member never comes back but counts towards each queue's quorum. Critical, two
 * approvers: removing members of a node that is only away (a rename being undone, a node being restored) throws its
 * copy away, so the plan and every batch's guard require that /api/nodes does not list the node at all. On 4.0 and
 * later each member goes over HTTP, in batches, and a last step lists the queues again once every node has run a
 * minute: RabbitMQ can list a queue without its member for about that long after a start, which leaves it out of a
 * plan made then (4.0.5, after an offline forget). Before 4.0, where that endpoint does not exist, one
 * `rabbitmq-queues shrink` through node control removes them all.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { StepFailedError, WorkflowRefusedError } from '../src/errors.js';
import { quorumForgottenMembersCheck } from '../src/health/checks/quorum-forgotten-members.js';
import { type ClusterSnapshot, snapshotVersion } from '../src/health/cluster-snapshot.js';
import { type GapQueue, membershipGaps, trafficSummary } from '../src/health/quorum-membership.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { type BrokerVersion, hasQuorumMemberEndpoints, seriesOf } from '../src/management/broker-version.js';
import { pollUntil } from '../src/remediation/poll.js';
import {
  batchMembers,
  CHANGE_NOT_PERMITTED_RETRY_MS,
  deleteQuorumMember,
  freshNodes,
  holdRemoval,
  type MemberBatch,
  memberBatches,
  unlistedNote,
} from '../src/remediation/quorum-replicas.js';
import {
  defineWorkflow,
  nodeControlOf,
  type PlannedAction,
  type WorkflowContext,
} from '../src/remediation/workflow-definition.js';
import { NODE_ARG } from './grow-quorum-queues.js';

interface Args {
  node: string;
}

const NAME_THE_NODE = 'name the node that left the cluster, e.g. rabbit@old-host';
const NO_ENDPOINT =
  'before RabbitMQ 4.0 there is no HTTP endpoint for removing quorum members, and warren runs `rabbitmq-queues shrink` through node control instead; run `rabbitmq-queues shrink NODE` on a running node by hand';

const batch = (action: PlannedAction) => action.data as unknown as MemberBatch;

/**
 * Those of `queues` that still list a member on `node`, freshly read, or whose members could not be read (no leader
 * yet): neither counts as done.
 */
async function stillMembers(context: WorkflowContext, node: string, queues: MemberBatch['queues']): Promise<string[]> {
  const left: string[] = [];
  const members = batchMembers(context.management);
  for (const { vhost, name } of queues) {
    const listed = await members.read(vhost, name);
    if (!listed) left.push(`\`${name}\` (its members are not listed: no leader yet?)`);
    else if (listed.includes(node)) left.push(`\`${name}\``);
  }
  return left;
}

/**
 * How long after a node starts RabbitMQ may still be rewriting each quorum queue's member list from its Raft cluster
 * (the leader's tick, every 5 s, after the Raft clusters have recovered): meanwhile a queue can be listed without a
 * member it has, which leaves it out of a plan (observed on 4.0.5 after an offline forget and a restart).
 */
const SETTLING_MS = 60_000;
const SETTLING_POLL_MS = 2_000;

/** A warning for a plan made while some node is that young. */
function settlingWarning(nodes: ClusterSnapshot['nodes'], node: string, lastStep: boolean): string[] {
  const young = (nodes ?? []).filter((n) => n.running && n.uptime !== undefined && n.uptime < SETTLING_MS);
  if (young.length === 0) return [];
  const started = young.map((n) => `\`${n.name}\` ${Math.round((n.uptime ?? 0) / 1000)} s ago`).join(', ');
  const then = lastStep
    ? "the run's last step lists the queues again once every node has run a minute and removes those members too."
    : "for the full list, reject this run and ask again in a minute; the run's check afterwards names any queue that lists the member then.";
  return [
    `Started ${started}: for about a minute after a start RabbitMQ may list a quorum queue without its member on \`${node}\`, and such a queue is not in this plan: ${then}`,
  ];
}

/** The queues `snapshot` lists with a member on one of `nodes`, none of which is in the cluster. */
function forgottenMembers(snapshot: ClusterSnapshot, nodes: ReadonlySet<string>): GapQueue[] {
  if (!snapshot.nodes || !snapshot.queues) return [];
  return membershipGaps(snapshot.nodes, snapshot.queues)
    .filter((g) => g.gap === 'forgotten' && g.node !== undefined && nodes.has(g.node))
    .flatMap((g) => g.queues);
}

const uptimes = z.array(z.object({ name: z.string(), running: z.boolean().optional(), uptime: z.number().optional() }));

/** Waits until every running node has run SETTLING_MS, for at most that long; returns how long it waited. */
async function waitForSettledNodes(context: WorkflowContext): Promise<number> {
  const started = Date.now();
  await pollUntil(
    async () => {
      const nodes = await context.management.get('/api/nodes', uptimes, { columns: 'name,running,uptime' });
      return nodes.every((n) => n.running === false || (n.uptime ?? SETTLING_MS) >= SETTLING_MS) ? true : undefined;
    },
    SETTLING_MS,
    SETTLING_POLL_MS,
  );
  return Date.now() - started;
}

/**
 * Removes the member on `node` from each of `queues`, each read afresh first: one already without it, or gone, is
 * counted, not an error, and one listed without members (no leader yet) is asked again, never taken for one without
 * a member there. Then the removals are held (see holdRemoval). Returns the names of the queues it removed the
 * member from, how many had none, and what a step's result adds of the holding and of queues it could not read.
 */
async function removeMembers(
  context: WorkflowContext,
  node: string,
  queues: MemberBatch['queues'],
): Promise<{ removed: string[]; already: number; note: string }> {
  const removed: string[] = [];
  let already = 0;
  const members = batchMembers(context.management);
  const read: MemberBatch['queues'] = [];
  for (const { vhost, name } of queues) {
    const listed = await members.read(vhost, name);
    if (!listed) continue;
    read.push({ vhost, name });
    if (!listed.includes(node)) already++;
    else {
      await deleteQuorumMember(context.management, vhost, name, node);
      removed.push(name);
    }
  }
  // The broker can answer a removal it did not make, and list the member again a few seconds later: see holdRemoval.
  const held = await holdRemoval(context.management, node, read);
  const repeated = held.repeated
    ? `; ${held.repeated} removal(s) done again: the broker listed the member again after removing it${
        held.left.length ? `, and still lists it on ${held.left.map((n) => `\`${n}\``).join(', ')}` : ''
      }`
    : '';
  return { removed, already, note: `${repeated}${unlistedNote(members.unlisted())}` };
}

/**
 * The last step over HTTP: the plan's queues are done; any other quorum queue that lists a member on `node` by now
 * was listed without it when the run was planned (RabbitMQ rewriting member lists after a start), and its member is
 * removed too, up to `limit` (what remediation.maxItemsPerRun leaves after the plan's own).
 */
async function removeStragglers(context: WorkflowContext, node: string, limit: number): Promise<string> {
  const waited = await waitForSettledNodes(context);
  const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
  if (!snapshot.nodes || !snapshot.queues) {
    throw new StepFailedError(`could not list the queues again: ${snapshot.errors.nodes ?? snapshot.errors.queues}`);
  }
  const found = forgottenMembers(snapshot, new Set([node]));
  const waitedNote =
    waited >= SETTLING_POLL_MS
      ? ` (after waiting ${Math.round(waited / 1000)} s for every node to have run a minute)`
      : '';
  if (found.length === 0) return `no other quorum queue lists a member on \`${node}\`${waitedNote}`;
  const taken = found.slice(0, limit);
  const { removed, already, note } = await removeMembers(context, node, taken);
  const names = removed.map((name) => `\`${name}\``).join(', ');
  return `${formatCount(found.length)} other quorum queue(s) listed a member on \`${node}\` by then${waitedNote}, not when the run was planned: removed it from ${names || 'none'}${
    already ? `, ${already} already removed or gone` : ''
  }${
    found.length > taken.length
      ? `; ${formatCount(found.length - taken.length)} more past remediation.maxItemsPerRun, for another run`
      : ''
  }${note}`;
}

/** The plan's warning, whichever way the members go. */
const mayBeAway = (node: string) =>
  `If \`${node}\` is only away (being restored, or renamed and about to be renamed back), its copy of these queues is thrown away: reject this run then.`;

/**
 * Before 4.0: one `rabbitmq-queues shrink NODE` through node control on a running member. It takes no queue names
 * and removes the node's member from every quorum queue at once, so the step covers all of them, past
 * remediation.maxItemsPerRun (the node is outside the cluster: none of its members can come back).
 */
function planWithCli(
  context: WorkflowContext,
  node: string,
  queues: GapQueue[],
  version: BrokerVersion,
  snapshot: ClusterSnapshot,
) {
  nodeControlOf(context, NO_ENDPOINT.replace('NODE', node));
  const via = snapshot.nodes?.find((n) => n.running)?.name;
  if (!via) throw new WorkflowRefusedError('No node of the cluster runs: `rabbitmq-queues shrink` needs one.');
  return {
    summary: `remove the member on \`${node}\` (not in the cluster) from ${formatCount(queues.length)} quorum queue(s): ${trafficSummary(queues).line}`,
    warnings: [
      mayBeAway(node),
      ...settlingWarning(snapshot.nodes, node, false),
      `RabbitMQ ${seriesOf(version)} has no HTTP endpoint for it: one \`rabbitmq-queues shrink\` through node control on \`${via}\` removes the member from every queue at once.`,
    ],
    actions: [
      {
        key: `shrink:${node}`,
        label: `remove every member on \`${node}\`: \`rabbitmq-queues shrink\` on \`${via}\``,
        data: { node, via, queues: queues.map((q) => ({ vhost: q.vhost, name: q.name })) },
        vhosts: [...new Set(queues.map((q) => q.vhost))],
      },
    ],
    guards: [`before the step, \`${node}\` is still absent from the cluster's node list`],
  };
}

export const shrinkForgottenMembersWorkflow = defineWorkflow<Args>({
  name: 'shrink-forgotten-members',
  description: 'Remove quorum queue members on a node that is no longer in the cluster',
  risk: 'critical',
  usage: '<node>',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, NAME_THE_NODE),
      flags: z.strictObject({}, { error: 'shrink-forgotten-members takes no flags' }),
    })
    .transform(({ positionals }) => ({ node: positionals[0] })),
  args: z.object({ node: z.string({ error: NAME_THE_NODE }).pipe(NODE_ARG) }),
  argsForAlert: (alert) => {
    const node = alert.findings.find((f) => f.check === quorumForgottenMembersCheck.id)?.data?.node;
    return typeof node === 'string' ? { node } : {};
  },

  async plan(context, args) {
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    if (!snapshot.nodes || !snapshot.queues) {
      throw new WorkflowRefusedError(`Could not read the cluster: ${snapshot.errors.nodes ?? snapshot.errors.queues}`);
    }
    if (snapshot.nodes.some((n) => n.name === args.node)) {
      throw new WorkflowRefusedError(
        `\`${args.node}\` is in cluster ${context.cluster}: its members are not forgotten. Start the node, or shrink by hand if you mean to.`,
      );
    }
    const queues = forgottenMembers(snapshot, new Set([args.node]));
    if (queues.length === 0) {
      throw new WorkflowRefusedError(`No quorum queue has a member on \`${args.node}\`: nothing to remove.`);
    }
    const version = snapshotVersion(snapshot);
    if (version && !hasQuorumMemberEndpoints(version))
      return planWithCli(context, args.node, queues, version, snapshot);
    const chosen = queues.slice(0, context.remediation.maxItemsPerRun);
    const actions: PlannedAction[] = memberBatches(
      args.node,
      chosen,
      (names) => `remove the member on \`${args.node}\` from ${names}`,
    );
    // Room left under maxItemsPerRun: a plan that already left queues out has none, and the next run sees them all.
    const room = queues.length > chosen.length ? 0 : context.remediation.maxItemsPerRun - chosen.length;
    if (room > 0) {
      actions.push({
        key: 'stragglers',
        label: `then any other quorum queue that lists a member on \`${args.node}\` once every node has run a minute (RabbitMQ can list a queue without it for about that long after a start)`,
        data: { node: args.node, queues: [], stragglers: room },
        vhosts: [],
      });
    }
    // A quorum queue whose Raft cluster has no leader yet (just after a restart) is listed without its members: the
    // plan cannot see whether it has one on the node, and the alert names it once it is listed again.
    const unlisted = snapshot.queues.filter((q) => q.type === 'quorum' && !q.members?.length).length;
    return {
      summary: `remove the member on \`${args.node}\` (not in the cluster) from ${formatCount(chosen.length)} quorum queue(s): ${trafficSummary(chosen).line}`,
      warnings: [
        mayBeAway(args.node),
        ...settlingWarning(snapshot.nodes, args.node, room > 0),
        ...(unlisted > 0
          ? [
              `${formatCount(unlisted)} quorum queue(s) are listed without members (no leader elected yet?) and are not in this plan: ${
                room > 0
                  ? 'the last step lists the queues again and takes those that list a member there by then'
                  : `if the alert still names \`${args.node}\` after this run, run it again`
              }.`,
            ]
          : []),
      ],
      actions,
      guards: [
        `before each batch, \`${args.node}\` is still absent from the cluster's node list`,
        'before each queue, it still has a member on the node (else "already removed")',
        ...(room > 0
          ? [
              `the last step waits (at most a minute) until every node has run a minute, then lists the queues again and takes at most ${formatCount(room)} more`,
            ]
          : []),
      ],
      ...(queues.length > chosen.length ? { leftOut: queues.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const { node } = batch(action);
    if ((await freshNodes(context.management)).some((n) => n.name === node)) {
      return { reason: `\`${node}\` is in the cluster again`, abort: true };
    }
    return undefined;
  },

  async execute(context, action) {
    const { node, queues } = batch(action);
    const via = action.data.via;
    const stragglers = action.data.stragglers;
    if (typeof stragglers === 'number') return removeStragglers(context, node, stragglers);
    if (typeof via === 'string') {
      const control = nodeControlOf(context, NO_ENDPOINT);
      // The CLI reports a queue whose leader refused the change (cluster_change_not_permitted, just after an
      // election) and goes on: run it again while some are left, as the HTTP path asks again.
      let left: string[] = [];
      await pollUntil(async () => {
        await control.shrinkMembers(via, node);
        left = await stillMembers(context, node, queues);
        return left.length === 0 ? true : undefined;
      }, CHANGE_NOT_PERMITTED_RETRY_MS);
      return `\`rabbitmq-queues shrink\` on \`${via}\`: ${formatCount(queues.length - left.length)} of ${formatCount(queues.length)} member(s) on \`${node}\` gone`;
    }
    const { removed, already, note } = await removeMembers(context, node, queues);
    return `removed ${removed.length} member(s) on \`${node}\`${already ? `, ${already} already removed or gone` : ''}${note}`;
  },

  async verify(context, done) {
    const left: string[] = [];
    for (const action of done) {
      const { node, queues } = batch(action);
      left.push(...(await stillMembers(context, node, queues)));
    }
    if (left.length > 0) return { ok: false, detail: `still a member on the node, or not known: ${left.join(', ')}` };
    // Queues the plan could not see with a member there (listed without members, or with an older membership, while
    // their Raft clusters recovered) may list one by now: the run is done with its own, and says the alert stays.
    const nodes = new Set(done.map((action) => batch(action).node));
    const planned = new Set(done.flatMap((action) => batch(action).queues.map((q) => `${q.vhost}\u0000${q.name}`)));
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    const since = forgottenMembers(snapshot, nodes).filter((q) => !planned.has(`${q.vhost}\u0000${q.name}`));
    return {
      ok: true,
      detail: `no queue of the run has a member on the node any more${
        since.length > 0
          ? `; ${formatCount(since.length)} other quorum queue(s) list one there now (not so when the run was planned): the alert stays until a new run removes them`
          : ''
      }`,
    };
  },
});
