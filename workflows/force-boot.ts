/**
 * `fix force-boot <node> --lost <node>` (runbook 1.6): the whole cluster is down and the node that stopped last,
 * which every other node waits for in its boot, is lost for good. `rabbitmqctl force_boot` on a survivor (the one
 * that stopped next to last holds the newest state left) makes its next boot skip that wait; `start_app` then boots
 * it. The other survivors then start normally (start-cluster) and sync from it, and the lost node is forgotten
 * (forget-node).
 *
 * Critical, two approvers: the survivor boots with the cluster state it had when it stopped, so every change the
 * lost node saw after that (queues, bindings, users, policies declared in between) is gone, with the lost node's
 * classic queues and their messages. Done to a node the others were only cut off from, it splits the cluster in
 * two. So the plan and the guard before each step require that no node runs (a running node means the survivor can
 * start normally and must), that the lost node neither runs nor answers as itself anywhere, and that node control
 * reaches the survivor with its app stopped (force_boot writes a flag the next boot reads; start_app needs the VM).
 */
import { z } from 'zod';
import { WorkflowRefusedError } from '../src/errors.js';
import { appState, sight } from '../src/remediation/node-sighting.js';
import { pollUntil } from '../src/remediation/poll.js';
import {
  defineWorkflow,
  nodeControlOf,
  type PlannedAction,
  type WorkflowContext,
} from '../src/remediation/workflow-definition.js';
import { NODE_ARG } from './grow-quorum-queues.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'force_boot and start_app are CLI commands';

interface Args {
  node: string;
  lost: string;
}

interface BootData {
  phase: 'force' | 'start';
  node: string;
  lost: string;
}

const VERIFY_WAIT_MS = 60_000;
const NAME_THE_NODE = 'name the survivor to boot, e.g. rabbit@host-2, and the lost node with --lost';

const data = (action: PlannedAction) => action.data as unknown as BootData;

/** Why force_boot must not run now, or undefined. */
async function refusal(context: WorkflowContext, { node, lost }: Args): Promise<string | undefined> {
  if (node === lost) return 'the survivor and the lost node are the same node';
  const control = nodeControlOf(context, NEEDS_CLI);
  const lostSeen = await sight(context.management, control, lost);
  if (lostSeen.running.length > 0) {
    return `${lostSeen.running.map((n) => `\`${n}\``).join(', ')} run${lostSeen.running.length === 1 ? 's' : ''}: \`${node}\` can start normally and sync from it (start-cluster), without losing anything`;
  }
  if (lostSeen.answersItself || lostSeen.runningIn.length > 0) return `\`${lost}\` is running`;
  if ('running' in lostSeen.control && lostSeen.control.running) {
    return `node control reaches \`${lost}\` and its rabbit app runs: it is not lost`;
  }
  if ('booting' in lostSeen.control && lostSeen.control.booting) {
    return `node control reaches \`${lost}\` and its rabbit app is booting: it is not lost (start-cluster starts its peers)`;
  }
  const survivor = await appState(control, node);
  if ('error' in survivor) {
    return `node control cannot reach \`${node}\` (${survivor.error}): start its VM (the RabbitMQ service) with the app stopped first`;
  }
  if (survivor.running) return `the rabbit app already runs on \`${node}\``;
  return undefined;
}

export const forceBootWorkflow = defineWorkflow<Args>({
  name: 'force-boot',
  description: 'Boot a survivor without the lost node that stopped last (force_boot, then start_app)',
  risk: 'critical',
  usage: '<node> --lost <node>',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()).max(1, NAME_THE_NODE),
      flags: z.strictObject(
        { lost: z.string({ error: '--lost needs the name of the node that is lost' }).optional() },
        { error: 'force-boot takes --lost NODE only' },
      ),
    })
    .transform(({ positionals, flags }) => ({ node: positionals[0], lost: flags.lost })),
  args: z.object({
    node: z.string({ error: NAME_THE_NODE }).pipe(NODE_ARG),
    lost: z.string({ error: 'name the lost node with --lost, e.g. --lost rabbit@host-3' }).pipe(NODE_ARG),
  }),

  async plan(context, args) {
    const refused = await refusal(context, args);
    if (refused) throw new WorkflowRefusedError(`Not force-booting \`${args.node}\`: ${refused}.`);
    const { node, lost } = args;
    return {
      summary: `boot \`${node}\` without waiting for \`${lost}\`, which stopped last and is lost`,
      warnings: [
        `\`${node}\` boots with the cluster state it had when it stopped: whatever changed after that (queues, bindings, users, policies declared while only \`${lost}\` and the last nodes ran) is lost, with \`${lost}\`'s classic queues and their messages.`,
        `If \`${lost}\` is only cut off from warren and can still start, reject this run: forcing a boot beside it splits the cluster in two.`,
        `Afterwards: start the other nodes (start-cluster), which sync from \`${node}\`, then remove \`${lost}\` (forget-node).`,
      ],
      actions: [
        {
          key: `force:${node}`,
          label: `\`rabbitmqctl force_boot\` on \`${node}\`: its next boot does not wait for \`${lost}\``,
          data: { phase: 'force', node, lost },
        },
        {
          key: `start:${node}`,
          label: `start the rabbit app on \`${node}\` and wait until it has booted`,
          data: { phase: 'start', node, lost },
        },
      ],
      guards: [
        `before each step: no node runs, \`${lost}\` neither runs nor answers as itself, and node control reaches \`${node}\` with its rabbit app stopped`,
      ],
    };
  },

  async guard(context, action) {
    const { node, lost, phase } = data(action);
    if (phase === 'start') {
      const state = await appState(nodeControlOf(context, NEEDS_CLI), node);
      if ('running' in state && state.running)
        return { reason: `the rabbit app already runs on \`${node}\``, abort: false };
    }
    const refused = await refusal(context, { node, lost });
    return refused ? { reason: refused, abort: true } : undefined;
  },

  async execute(context, action) {
    const { node, lost, phase } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    if (phase === 'force') {
      // Idempotent: it (re)writes the flag file that the next boot reads and removes.
      await control.run(node, 'force_boot');
      return `force_boot set on \`${node}\`: its next boot will not wait for \`${lost}\``;
    }
    const started = Date.now();
    await control.run(node, 'start_app');
    return `rabbit app started on \`${node}\` in ${Math.round((Date.now() - started) / 1000)} s`;
  },

  async verify(context, done) {
    const { node } = data(done[0] as PlannedAction);
    const control = nodeControlOf(context, NEEDS_CLI);
    const running = await pollUntil(async () => {
      const state = await appState(control, node);
      return 'running' in state && state.running ? true : undefined;
    }, VERIFY_WAIT_MS);
    return running
      ? { ok: true, detail: `the rabbit app runs on \`${node}\`` }
      : { ok: false, detail: `the rabbit app does not run on \`${node}\` after ${VERIFY_WAIT_MS / 1000} s` };
  },
});
