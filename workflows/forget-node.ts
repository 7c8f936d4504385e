/**
 * `fix forget-node <node>` (runbook 1.6, and RabbitMQ's "removing a node" guide): removes a node that is gone for
 * good (its disk died, its VM was deleted) from the cluster's membership with `rabbitmqctl forget_cluster_node`, run
 * through node control against a running member. Until then the cluster keeps waiting for it: every quorum queue
 * counts its member there towards quorum, and a classic queue whose home it was cannot be declared again.
 *
 * What makes it critical (two approvers) is that it cannot be undone: the node can come back only as a new member,
 * reset and joined again, with none of its data. So the plan and the guard before the step require that the node
 * is really down and not on the far side of a partition, asked three ways: no management URL lists it running, none
 * answers from the node itself, and node control finds its rabbit app not running (its VM does not answer, or
 * answers with the app stopped: a node being decommissioned). A node that node control finds running is cut off,
 * not gone, and the run is refused: heal-partition is the way back for it.
 *
 * The plan shows what lived on the node: quorum members (RabbitMQ removes them after the forget, as it does stream
 * replicas on 4.x; any it leaves, quorum-forgotten-members reports and shrink-forgotten-members removes), and classic
 * queues whose home was the node, which the cluster deletes with it unless a 3.x mirror takes over. The offline form
 * (`--offline`, every node down) runs on the host of a stopped node and is not automated here.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { WorkflowRefusedError } from '../src/errors.js';
import type { QueueInfo } from '../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { clusterBrokerVersion, hasClassicMirroring } from '../src/management/broker-version.js';
import { type Sighting, sight } from '../src/remediation/node-sighting.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, nodeControlOf, type PlannedAction } from '../src/remediation/workflow-definition.js';
import { NODE_ARG } from './grow-quorum-queues.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'a node is forgotten with the CLI';

interface Args {
  node: string;
}

interface ForgetData {
  node: string;
  /** The running member the command is run against. */
  via: string;
}

const NAME_THE_NODE = 'name the node that is gone for good, e.g. rabbit@old-host';
const VERIFY_WAIT_MS = 30_000;
const SHOWN = 5;

const data = (action: PlannedAction) => action.data as unknown as ForgetData;
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** Why the node must not be forgotten now, or undefined when it is down (or stopped) and a member can forget it. */
export function refusal(sighting: Sighting, node: string): string | undefined {
  if (sighting.answered === 0)
    return 'no management URL of the cluster answers: nothing can tell whether the node is gone';
  if (!sighting.member) return `\`${node}\` is not a member of the cluster (already forgotten?)`;
  if (sighting.answersItself) return `\`${node}\` answers its own management API: it is running`;
  if (sighting.runningIn.length > 0)
    return `${code(sighting.runningIn)} list${sighting.runningIn.length === 1 ? 's' : ''} \`${node}\` as running`;
  if ('running' in sighting.control && sighting.control.running) {
    return (
      `node control reaches \`${node}\` and its rabbit app runs: it is cut off from the other nodes (a partition), ` +
      'not gone. Heal the partition instead (heal-partition)'
    );
  }
  if ('booting' in sighting.control && sighting.control.booting) {
    return `node control reaches \`${node}\` and its rabbit app is booting: it is coming back, not gone`;
  }
  if (sighting.running.length === 0) {
    return (
      'no other node of the cluster runs: forgetting a node then takes `forget_cluster_node --offline` on the host of ' +
      'the last node to stop, which warren does not run; start the cluster first, or follow the runbook by hand'
    );
  }
  return undefined;
}

function stateText(sighting: Sighting): string {
  return 'error' in sighting.control
    ? `down: its VM does not answer node control (${sighting.control.error})`
    : 'its VM answers, with the rabbit app stopped';
}

function queueNames(queues: readonly QueueInfo[]): string {
  const shown = queues.slice(0, SHOWN).map((q) => `\`${q.name}\`${q.vhost === '/' ? '' : ` (vhost \`${q.vhost}\`)`}`);
  return `${shown.join(', ')}${queues.length > SHOWN ? ` and ${formatCount(queues.length - SHOWN)} more` : ''}`;
}

export const forgetNodeWorkflow = defineWorkflow<Args>({
  name: 'forget-node',
  description: 'Remove a node that is gone for good from the cluster (forget_cluster_node)',
  risk: 'critical',
  usage: '<node>',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()).max(1, NAME_THE_NODE),
      flags: z.strictObject({}, { error: 'forget-node takes no flags' }),
    })
    .transform(({ positionals }) => ({ node: positionals[0] })),
  args: z.object({ node: z.string({ error: NAME_THE_NODE }).pipe(NODE_ARG) }),

  async plan(context, args) {
    const control = nodeControlOf(context, NEEDS_CLI);
    const sighting = await sight(context.management, control, args.node);
    const refused = refusal(sighting, args.node);
    if (refused) throw new WorkflowRefusedError(`Not forgetting \`${args.node}\`: ${refused}.`);
    const via = sighting.running[0] as string;
    const snapshot = await new SnapshotFetcher(context.cluster, context.management).fetch();
    const queues = snapshot.queues ?? [];
    const quorum = queues.filter((q) => q.type === 'quorum' && q.members?.includes(args.node));
    const home = queues.filter((q) => (q.type ?? 'classic') === 'classic' && q.node === args.node);
    const mirrored = home.filter((q) => (q.slave_nodes?.length ?? 0) > 0);
    const lost = home.filter((q) => (q.slave_nodes?.length ?? 0) === 0);
    const lostMessages = lost.reduce((sum, q) => sum + (q.messages ?? 0), 0);
    const streams = (snapshot.streams ?? []).filter((s) => s.members?.includes(args.node));
    const version = clusterBrokerVersion((snapshot.nodes ?? []).filter((n) => n.running));
    const classicMirroring = version ? hasClassicMirroring(version) : true;

    const warnings = [
      `\`${args.node}\` is ${stateText(sighting)}. If it is only out of warren's reach and still serves clients, reject this run.`,
      `This cannot be undone: \`${args.node}\` can come back only as a new member, reset (\`rabbitmqctl reset\`) and joined again (\`join_cluster\`), with none of its data.`,
    ];
    if (lost.length > 0) {
      warnings.push(
        `${formatCount(lost.length)} classic queue(s) whose home is \`${args.node}\` are deleted from the cluster with it (${formatCount(lostMessages)} message(s) when last counted): ${queueNames(lost)}.`,
      );
    }
    if (!classicMirroring) {
      warnings.push(
        "While a node is down, RabbitMQ 4's queue listing can leave out its classic queues: more may be deleted than listed here.",
      );
    }
    if (mirrored.length > 0) {
      warnings.push(
        `${formatCount(mirrored.length)} mirrored classic queue(s) led there are taken over by a mirror: ${queueNames(mirrored)}.`,
      );
    }
    if (quorum.length > 0) {
      warnings.push(
        `${formatCount(quorum.length)} quorum queue(s) have a member on it: ${queueNames(quorum)}. RabbitMQ removes those members after the forget; they keep running on their other members. Grow them onto a replacement node afterwards (grow-quorum-queues).`,
      );
    }
    if (streams.length > 0) {
      warnings.push(
        classicMirroring
          ? `${formatCount(streams.length)} stream(s) have a replica on it, which RabbitMQ 3.x does not remove when it forgets a node: check them afterwards.`
          : `${formatCount(streams.length)} stream(s) lose their replica on it; add one on a replacement node afterwards (repair-stream-replicas).`,
      );
    }
    const lostText = lost.length > 0 ? `, ${formatCount(lost.length)} classic queue(s) deleted with it` : '';
    return {
      summary: `remove \`${args.node}\` from cluster ${context.cluster} for good (${formatCount(quorum.length)} quorum member(s) dropped${lostText})`,
      warnings,
      actions: [
        {
          key: `forget:${args.node}`,
          label: `remove \`${args.node}\` from the cluster: \`forget_cluster_node\` run against \`${via}\``,
          data: { node: args.node, via },
        },
      ],
      guards: [
        `\`${args.node}\` is still a member, no node lists it as running, its own management API does not answer, and node control does not find its rabbit app running`,
        `\`${via}\` (or another member) still runs, to run the command against`,
      ],
    };
  },

  async guard(context, action) {
    const { node } = data(action);
    const sighting = await sight(context.management, nodeControlOf(context, NEEDS_CLI), node);
    if (sighting.answered > 0 && !sighting.member) return { reason: `\`${node}\` is no longer a member`, abort: false };
    const refused = refusal(sighting, node);
    return refused ? { reason: refused, abort: true } : undefined;
  },

  async execute(context, action) {
    const { node, via } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    const sighting = await sight(context.management, control, node);
    if (sighting.answered > 0 && !sighting.member) return `\`${node}\` is not a member any more: already forgotten`;
    // The planned member may have gone down since; any running one can do it.
    const runner = sighting.running.includes(via) ? via : (sighting.running[0] ?? via);
    const output = await control.forgetClusterNode(runner, node);
    const said = output.split('\n').filter(Boolean).at(-1);
    return `removed \`${node}\` from the cluster (\`forget_cluster_node\` on \`${runner}\`)${said ? `: ${said}` : ''}`;
  },

  async verify(context, done) {
    const { node } = data(done[0] as PlannedAction);
    const listing = z.array(z.looseObject({ name: z.string() }));
    const gone = await pollUntil(async () => {
      const listers: string[] = [];
      let answered = 0;
      for (const base of context.management.baseUrls) {
        const nodes = await context.management.getFrom(base, '/api/nodes?columns=name', listing).catch(() => undefined);
        if (!nodes) continue;
        answered++;
        if (nodes.some((n) => n.name === node)) listers.push(base);
      }
      return answered > 0 && listers.length === 0 ? true : undefined;
    }, VERIFY_WAIT_MS);
    if (!gone) {
      return { ok: false, detail: `after ${VERIFY_WAIT_MS / 1000} s a node still lists \`${node}\` as a member` };
    }
    const queues = await context.management
      .get('/api/queues', z.array(z.looseObject({ name: z.string(), members: z.array(z.string()).nullish() })), {
        columns: 'name,members',
      })
      .catch(() => undefined);
    const left = queues?.filter((q) => q.members?.includes(node)).length ?? 0;
    return {
      ok: true,
      detail:
        `no node lists \`${node}\` any more` +
        (left > 0
          ? `; ${formatCount(left)} quorum queue(s) still have a member on it: the quorum-forgotten-members alert names them, and shrink-forgotten-members removes them`
          : ''),
    };
  },
});
