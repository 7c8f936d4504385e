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
 * queues whose home was the node, which the cluster deletes with it unless a 3.x mirror takes over.
 *
 * `--offline --on SURVIVOR` is runbook 1.6's other way out when every node is down and the node that stopped last is
 * lost: `forget_cluster_node --offline` run on the survivor's host while its VM is stopped (the CLI edits its
 * files), after which the survivor boots without waiting for the lost node. warren then starts the survivor's
 * service and verifies that it runs and no longer lists the node, so the offline form needs `nodeControl.service`.
 * It is refused while any node runs (the online form needs no guesswork) and while node control reaches the
 * survivor's VM. Quorum members cannot be removed offline: the quorum-forgotten-members alert names them once the
 * cluster runs, and shrink-forgotten-members removes them.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { StepFailedError, WorkflowRefusedError } from '../src/errors.js';
import type { QueueInfo } from '../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { clusterBrokerVersion, hasClassicMirroring } from '../src/management/broker-version.js';
import { appState, clusterViews, runsWithin, type Sighting, sight } from '../src/remediation/node-sighting.js';
import { pollUntil } from '../src/remediation/poll.js';
import {
  defineWorkflow,
  nodeControlOf,
  type PlannedAction,
  type WorkflowContext,
} from '../src/remediation/workflow-definition.js';
import { NODE_ARG } from './grow-quorum-queues.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'a node is forgotten with the CLI';

interface Args {
  node: string;
  /** Every node is down: forget it in the files of `on`, a stopped survivor. */
  offline: boolean;
  on?: string;
}

interface ForgetData {
  node: string;
  /** The running member the command is run against; offline, the stopped survivor whose files are changed. */
  via: string;
  /** Offline only: forget it in the survivor's files, or start the survivor afterwards. */
  offline?: 'forget' | 'start';
}

const NAME_THE_NODE = 'name the node that is gone for good, e.g. rabbit@old-host';
const VERIFY_WAIT_MS = 30_000;
/** How long the survivor may take to boot once its service is started. */
const BOOT_WAIT_MS = 120_000;
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
      'no other node of the cluster runs: start the cluster first (start-cluster), or, if it cannot start because ' +
      'this node stopped last, forget it offline: `--offline --on NODE`, NODE being the survivor that stopped last'
    );
  }
  return undefined;
}

/** Why `forget_cluster_node --offline` must not run now on `on`'s files, or undefined. */
async function offlineRefusal(context: WorkflowContext, node: string, on: string): Promise<string | undefined> {
  if (node === on) return 'the node to forget and the node to run it on are the same node';
  const control = nodeControlOf(context, NEEDS_CLI);
  const seen = await sight(context.management, control, node);
  if (seen.running.length > 0) {
    return `${code(seen.running)} run${seen.running.length === 1 ? 's' : ''}: forget it against a running member, without --offline`;
  }
  if (seen.answersItself || seen.runningIn.length > 0) return `\`${node}\` is running`;
  if ('running' in seen.control && seen.control.running) {
    return `node control reaches \`${node}\` and its rabbit app runs: it is not gone`;
  }
  if ('booting' in seen.control && seen.control.booting) {
    return `node control reaches \`${node}\` and its rabbit app is booting: it is coming back, not gone`;
  }
  const survivor = await appState(control, on);
  if (!('error' in survivor)) {
    return `node control reaches the VM of \`${on}\`: the offline form works on a stopped node's files, so stop its service first`;
  }
  if (!control.canControlService) {
    return (
      'offline, warren verifies by starting the survivor, which takes `nodeControl.service`; without it follow the ' +
      `runbook by hand: \`rabbitmqctl forget_cluster_node --offline ${node}\` on \`${on}\`'s host, then start it`
    );
  }
  return undefined;
}

/** A management URL lists `on` running and `node` no longer; undefined while not (or none answers). */
async function survivorWithout(context: WorkflowContext, node: string, on: string): Promise<true | undefined> {
  const view = (await clusterViews(context.management)).find((v) =>
    v.nodes.some((n) => n.name === on && n.running === true),
  );
  return view && !view.nodes.some((n) => n.name === node) ? true : undefined;
}

function planOffline(node: string, on: string) {
  return {
    summary: `remove \`${node}\` from the cluster for good while every node is down, in the files of \`${on}\`, then start \`${on}\``,
    warnings: [
      `This cannot be undone: \`${node}\` can come back only as a new member, reset and joined again, with none of its data.`,
      `\`${on}\` then boots without waiting for \`${node}\`. It must be the node that stopped last among the others: a node that stopped before another still waits for that one.`,
      `Nothing can be listed while every node is down: the classic queues whose home was \`${node}\` are lost with their messages, and its quorum members cannot be removed offline (the quorum-forgotten-members alert names them once the cluster runs; shrink-forgotten-members removes them; for about a minute after the nodes are back RabbitMQ may list a queue without its member there, and that run's last step lists the queues again once the nodes have run a minute).`,
      'Afterwards start the other nodes (start-cluster): they sync from it.',
    ],
    actions: [
      {
        key: `forget-offline:${node}`,
        label: `remove \`${node}\` in the files of the stopped \`${on}\`: \`forget_cluster_node --offline\` on its host`,
        data: { node, via: on, offline: 'forget' },
      },
      {
        key: `start:${on}`,
        label: `start the RabbitMQ service of \`${on}\` and wait until its rabbit app runs`,
        data: { node, via: on, offline: 'start' },
      },
    ],
    guards: [
      `no node runs, \`${node}\` is not running or booting anywhere, and node control does not reach the VM of \`${on}\``,
      `before the start: the rabbit app of \`${on}\` does not run yet (else skipped)`,
    ],
  };
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
  usage: '<node> [--offline --on <stopped survivor>]',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()).max(1, NAME_THE_NODE),
      flags: z.strictObject(
        {
          offline: z.literal(true, { error: '--offline takes no value' }).optional(),
          on: z.string({ error: '--on needs the name of the stopped survivor' }).optional(),
        },
        { error: 'forget-node takes --offline --on NODE only' },
      ),
    })
    .transform(({ positionals, flags }) => ({ node: positionals[0], offline: flags.offline === true, on: flags.on })),
  args: z
    .object({
      node: z.string({ error: NAME_THE_NODE }).pipe(NODE_ARG),
      offline: z.boolean().default(false),
      on: NODE_ARG.optional(),
    })
    .refine((a) => !a.offline || a.on !== undefined, {
      message: 'with --offline, name the stopped survivor to run it on: --on rabbit@host (the one that stopped last)',
    })
    .refine((a) => a.offline || a.on === undefined, { message: '--on goes with --offline' }),

  async plan(context, args) {
    if (args.offline) {
      const on = args.on as string;
      const refused = await offlineRefusal(context, args.node, on);
      if (refused) throw new WorkflowRefusedError(`Not forgetting \`${args.node}\` offline: ${refused}.`);
      return planOffline(args.node, on);
    }
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
    const { node, via, offline } = data(action);
    if (offline === 'forget') {
      const refused = await offlineRefusal(context, node, via);
      return refused ? { reason: refused, abort: true } : undefined;
    }
    if (offline === 'start') {
      const state = await appState(nodeControlOf(context, NEEDS_CLI), via);
      return 'running' in state && state.running
        ? { reason: `the rabbit app already runs on \`${via}\``, abort: false }
        : undefined;
    }
    const sighting = await sight(context.management, nodeControlOf(context, NEEDS_CLI), node);
    if (sighting.answered > 0 && !sighting.member) return { reason: `\`${node}\` is no longer a member`, abort: false };
    const refused = refusal(sighting, node);
    return refused ? { reason: refused, abort: true } : undefined;
  },

  async execute(context, action) {
    const { node, via, offline } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    if (offline === 'forget') {
      const said = (await control.forgetClusterNode(via, node, { offline: true })).split('\n').filter(Boolean).at(-1);
      return `removed \`${node}\` in the files of \`${via}\` (\`forget_cluster_node --offline\`)${said ? `: ${said}` : ''}`;
    }
    if (offline === 'start') {
      const started = Date.now();
      await control.startService(via);
      if (!(await runsWithin(control, via, BOOT_WAIT_MS)))
        throw new StepFailedError(
          `the service of \`${via}\` was started, but its rabbit app does not run after ${BOOT_WAIT_MS / 1000} s`,
        );
      return `\`${via}\` started without \`${node}\`; its rabbit app runs after ${Math.round((Date.now() - started) / 1000)} s`;
    }
    const sighting = await sight(context.management, control, node);
    if (sighting.answered > 0 && !sighting.member) return `\`${node}\` is not a member any more: already forgotten`;
    // The planned member may have gone down since; any running one can do it.
    const runner = sighting.running.includes(via) ? via : (sighting.running[0] ?? via);
    const output = await control.forgetClusterNode(runner, node);
    const said = output.split('\n').filter(Boolean).at(-1);
    return `removed \`${node}\` from the cluster (\`forget_cluster_node\` on \`${runner}\`)${said ? `: ${said}` : ''}`;
  },

  async verify(context, done) {
    const { node, via, offline } = data(done[0] as PlannedAction);
    if (offline) {
      const ok = await pollUntil(() => survivorWithout(context, node, via), VERIFY_WAIT_MS);
      return ok
        ? {
            ok: true,
            detail: `\`${via}\` runs and no longer lists \`${node}\`: start the other nodes now (start-cluster)`,
          }
        : {
            ok: false,
            detail: `after ${VERIFY_WAIT_MS / 1000} s no management URL shows \`${via}\` running without \`${node}\``,
          };
    }
    const gone = await pollUntil(async () => {
      const views = await clusterViews(context.management);
      return views.length > 0 && views.every((v) => !v.nodes.some((n) => n.name === node)) ? true : undefined;
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
