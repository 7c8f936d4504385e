/**
 * `fix start-cluster [node…]` (runbook 1.6): starts the rabbit application on stopped nodes, in the order the
 * runbook asks for after a whole-cluster stop: the node that stopped last first (it holds the newest cluster state
 * and boots on its own), then the others, which wait for it in their boot. The node-down alert's **Fix…** gives
 * the order warren recorded (stop-order.ts: the last node seen running comes first); typed nodes are started in the
 * order typed. With some management URL answering and no nodes named, the nodes it lists as not running are started.
 *
 * Through node control's `start_app`, so the nodes' VMs must be up (the app stopped, as after `stop_app` or a boot
 * that gave up): warren cannot boot a VM, and the plan refuses a node whose VM does not answer, saying to start its
 * service. Critical, two approvers: starting the nodes in the wrong order leaves the first one waiting in its boot
 * (up to 5 minutes) and then failing. Before each start the node is asked again (already running: skipped), and a
 * node after the first starts only once the first one runs. Verify: every node of the run runs, and none reports a
 * partition.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { StepFailedError, WorkflowRefusedError } from '../src/errors.js';
import { nodeDownCheck } from '../src/health/checks/node-down.js';
import type { ManagementClient } from '../src/management/management-client.js';
import { appState } from '../src/remediation/node-sighting.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, nodeControlOf, type PlannedAction } from '../src/remediation/workflow-definition.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'the rabbit app is started with the CLI';

interface Args {
  nodes: string[];
}

interface StartData {
  node: string;
  /** The node started first, which every later one waits for. */
  first: string;
}

const NODE_NAME = /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;
const VERIFY_WAIT_MS = 90_000;

const data = (action: PlannedAction) => action.data as unknown as StartData;
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

const nodesSchema = z.array(
  z.looseObject({ name: z.string(), running: z.boolean().optional(), partitions: z.array(z.string()).optional() }),
);
type Listed = z.infer<typeof nodesSchema>;

/** /api/nodes from the first management URL that answers; undefined when none does. */
async function anyListing(management: ManagementClient): Promise<Listed | undefined> {
  for (const base of management.baseUrls) {
    const listed = await management
      .getFrom(base, '/api/nodes?columns=name,running,partitions', nodesSchema)
      .catch(() => undefined);
    if (listed) return listed;
  }
  return undefined;
}

export const startClusterWorkflow = defineWorkflow<Args>({
  name: 'start-cluster',
  description: 'Start the rabbit app on stopped nodes, the node that stopped last first',
  risk: 'critical',
  usage: '[node …] (the node that stopped last first)',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()),
      flags: z.strictObject({}, { error: 'start-cluster takes no flags' }),
    })
    .transform(({ positionals }) => ({ nodes: positionals.length > 0 ? [...new Set(positionals)] : undefined })),
  args: z.object({
    nodes: z.array(z.string().regex(NODE_NAME, 'a node is named like rabbit@host')).default([]),
  }),
  argsForAlert: (alert) => {
    const order = alert.findings.find((f) => f.check === nodeDownCheck.id && f.subject === 'start order')?.data
      ?.order as { node: string }[] | undefined;
    // The last node seen running first; the others after it, the most recently seen first.
    return order ? { nodes: order.map((o) => o.node).reverse() } : {};
  },

  async plan(context, args) {
    const control = nodeControlOf(context, NEEDS_CLI);
    const listed = await anyListing(context.management);
    let nodes = args.nodes;
    if (nodes.length === 0) {
      if (!listed) {
        throw new WorkflowRefusedError(
          'No management URL answers and no nodes were named. Use the node-down alert’s Fix…, which carries the order ' +
            'warren recorded, or name the nodes, the one that stopped last first.',
        );
      }
      nodes = listed.filter((n) => n.running !== true).map((n) => n.name);
      if (nodes.length === 0) throw new WorkflowRefusedError('Every node of the cluster runs: nothing to start.');
    }
    const states = await Promise.all(nodes.map(async (node) => [node, await appState(control, node)] as const));
    const unreachable = states.filter(([, state]) => 'error' in state);
    if (unreachable.length > 0) {
      throw new WorkflowRefusedError(
        `Node control cannot reach ${code(unreachable.map(([node]) => node))}: their VMs are down or out of reach. ` +
          'start_app needs a running VM: start the RabbitMQ service on those hosts (e.g. `systemctl start rabbitmq-server`), ' +
          `the one that stopped last first. (${unreachable.map(([node, state]) => `${node}: ${'error' in state ? state.error : ''}`).join('; ')})`,
      );
    }
    const stopped = states.filter(([, state]) => 'running' in state && !state.running).map(([node]) => node);
    if (stopped.length === 0) {
      throw new WorkflowRefusedError(`The rabbit app already runs on ${code(nodes)}: nothing to start.`);
    }
    const first = stopped[0] as string;
    const warnings = [
      `\`${first}\` starts first: it must be the node that stopped last. Every node after it waits for it in its boot; if another node stopped after it, \`${first}\` itself waits (up to 5 minutes by default) and then fails.`,
    ];
    if (!listed) {
      warnings.push(
        'No management URL answers: the order comes from when warren last saw each node running. If the cluster stopped while warren could not see it, check the order against the nodes’ logs.',
      );
    }
    const running = states.filter(([, state]) => 'running' in state && state.running).map(([node]) => node);
    if (running.length > 0) warnings.push(`Already running, left alone: ${code(running)}.`);
    return {
      summary: `start the rabbit app on ${formatCount(stopped.length)} node(s), in this order: ${code(stopped)}`,
      warnings,
      actions: stopped.map((node, i) => ({
        key: `start:${node}`,
        label:
          i === 0
            ? `start the rabbit app on \`${node}\`, the node that stopped last, and wait until it has booted`
            : `start the rabbit app on \`${node}\` and wait until it has booted with \`${first}\``,
        data: { node, first },
      })),
      guards: [
        'before each start: node control reaches the node (its VM is up) and its rabbit app does not run yet (else skipped)',
        `before each node after \`${first}\`: the rabbit app runs on \`${first}\``,
      ],
    };
  },

  async guard(context, action) {
    const { node, first } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    const state = await appState(control, node);
    if ('error' in state) return { reason: `node control cannot reach \`${node}\`: ${state.error}`, abort: true };
    if (state.running) return { reason: `the rabbit app already runs on \`${node}\``, abort: false };
    if (node !== first) {
      const lead = await appState(control, first);
      if (!('running' in lead) || !lead.running) {
        return { reason: `\`${first}\` does not run: \`${node}\` would wait for it in its boot`, abort: true };
      }
    }
    return undefined;
  },

  async execute(context, action) {
    const { node } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    const state = await appState(control, node);
    if ('running' in state && state.running) return `the rabbit app already runs on \`${node}\``;
    const started = Date.now();
    // start_app returns once the node has booted, or fails when it gave up waiting for its peers.
    await control.run(node, 'start_app');
    if (!(await control.rabbitRunning(node))) {
      throw new StepFailedError(`start_app returned on \`${node}\`, but its rabbit app does not run`);
    }
    return `rabbit app started on \`${node}\` in ${Math.round((Date.now() - started) / 1000)} s`;
  },

  async verify(context, done) {
    const nodes = done.map((action) => data(action).node);
    let last: Listed | undefined;
    const whole = await pollUntil(
      async () => {
        last = await anyListing(context.management);
        const ok =
          last !== undefined &&
          nodes.every((node) => last?.some((n) => n.name === node && n.running === true)) &&
          last.every((n) => n.partitions !== undefined && n.partitions.length === 0);
        return ok ? true : undefined;
      },
      VERIFY_WAIT_MS,
      2_000,
    );
    if (whole && last) {
      const notRunning = last.filter((n) => n.running !== true).map((n) => n.name);
      return {
        ok: true,
        detail:
          `${code(nodes)} run, and no node reports a partition` +
          (notRunning.length > 0 ? `; not running (not part of this run): ${code(notRunning)}` : ''),
      };
    }
    if (!last) return { ok: false, detail: `no management URL answers after ${VERIFY_WAIT_MS / 1000} s` };
    const problems = nodes
      .filter((node) => !last?.some((n) => n.name === node && n.running === true))
      .map((node) => `\`${node}\` is not running`);
    for (const n of last) if ((n.partitions?.length ?? 0) > 0) problems.push(`\`${n.name}\` reports a partition`);
    return {
      ok: false,
      detail: `after ${VERIFY_WAIT_MS / 1000} s: ${problems.join('; ') || 'a node is still starting'}`,
    };
  },
});
