/**
 * `fix start-cluster [node…]` (runbook 1.6): brings stopped or hung nodes up, in the order the runbook asks for
 * after a whole-cluster stop: the node that stopped last first (it holds the newest cluster state and boots on its
 * own), then the others, which wait for it in their boot. The node-down alert's **Fix…** gives the order warren
 * recorded (stop-order.ts: the last node seen running comes first), and so does the boot-hang alert's; typed nodes
 * are started in the order typed. With some management URL answering and no nodes named, the nodes it lists as not
 * running are started.
 *
 * Each node as node control finds it:
 * - VM up, rabbit app stopped: `start_app`;
 * - VM down: the service is started (`nodeControl.service.start`); without that template the plan refuses and says
 *   to start the service by hand;
 * - already booting: it is left to finish once the node before it runs; if it has not 60 s later (or at once, when
 *   other nodes were running already and the boot still hangs), its VM is ended and started again through the
 *   service templates.
 * Critical, two approvers: starting the nodes in the wrong order leaves the first one waiting in its boot (up to 5
 * minutes) and then failing. Before each step the node is asked again (already running: skipped), and a node after
 * the first starts only once the first one runs. Verify: every node of the run runs, and none reports a partition.
 */
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { StepFailedError, WorkflowRefusedError } from '../src/errors.js';
import { bootHangCheck } from '../src/health/checks/boot-hang.js';
import { nodeDownCheck } from '../src/health/checks/node-down.js';
import type { ManagementClient } from '../src/management/management-client.js';
import type { NodeControl } from '../src/remediation/node-control.js';
import { appState, clusterViews, type ListedNode, runsWithin } from '../src/remediation/node-sighting.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, nodeControlOf, type PlannedAction } from '../src/remediation/workflow-definition.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'the rabbit app is started with the CLI';

interface Args {
  nodes: string[];
}

/** How a node is brought up: start_app in its running VM, its service started, or its boot awaited (or redone). */
type How = 'app' | 'service' | 'boot';

interface StartData {
  node: string;
  /** The node started first, which every later one waits for. */
  first: string;
  how: How;
  /** For a booting node: other nodes already ran when the run was planned, so a boot still going is hung. */
  hungWithPeers?: boolean;
  /**
   * For the first node after a whole-cluster stop: the node that stopped next to last, which force-boot would boot
   * without it if it is lost for good (runbook 1.6). Its failure says so; the run never switches by itself, because
   * only an operator knows that a node's disk is gone rather than slow.
   */
  next?: string;
}

const NODE_NAME = /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;
const VERIFY_WAIT_MS = 90_000;
/** How long a booting node may take to finish once the node before it runs, before its VM is restarted. */
const BOOT_GRACE_MS = 60_000;
/** The same for a node that was booting while other nodes already ran: it is hung, but a last look costs little. */
const HUNG_GRACE_MS = 10_000;
/** How long a started VM may take to boot (the service command may return before it has). */
const SERVICE_BOOT_MS = 120_000;

const data = (action: PlannedAction) => action.data as unknown as StartData;
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

type Listed = ListedNode[];

/** /api/nodes from the first management URL that answers; undefined when none does. */
async function anyListing(management: ManagementClient): Promise<Listed | undefined> {
  return (await clusterViews(management))[0]?.nodes;
}

/** Ends the node's VM and starts it again through the service templates; what it did. */
async function restartVm(control: NodeControl, node: string, why: string): Promise<string> {
  if (!control.canControlService) {
    throw new StepFailedError(
      `\`${node}\` ${why}. Ending a hung VM takes \`nodeControl.service\`, which this cluster does not configure: restart the RabbitMQ service on its host.`,
    );
  }
  await control.stopService(node);
  await control.startService(node);
  if (!(await runsWithin(control, node, SERVICE_BOOT_MS))) {
    throw new StepFailedError(
      `\`${node}\`: its VM was restarted, but its rabbit app does not run after ${SERVICE_BOOT_MS / 1000} s`,
    );
  }
  return `\`${node}\` ${why}: its VM was ended and started again, and it runs`;
}

/** Brings one node up as the plan said; what it did. Throws StepFailedError (or node control's error) when it cannot. */
async function bringUp(control: NodeControl, { node, how, hungWithPeers }: StartData): Promise<string> {
  const state = await appState(control, node);
  if ('running' in state && state.running) return `the rabbit app already runs on \`${node}\``;
  const started = Date.now();
  const took = () => `${Math.round((Date.now() - started) / 1000)} s`;
  if (how === 'boot' || ('booting' in state && state.booting)) {
    // A boot that was waiting for a peer this run started ends within seconds of it: give it that long.
    const grace = hungWithPeers ? HUNG_GRACE_MS : BOOT_GRACE_MS;
    if (await runsWithin(control, node, grace)) return `\`${node}\` finished its boot in ${took()}`;
    return restartVm(control, node, `was still booting ${grace / 1000} s after its peers ran`);
  }
  if ('error' in state) {
    await control.startService(node);
    if (!(await runsWithin(control, node, SERVICE_BOOT_MS))) {
      throw new StepFailedError(
        `the service of \`${node}\` was started, but its rabbit app does not run after ${took()}`,
      );
    }
    return `RabbitMQ service of \`${node}\` started; its rabbit app runs after ${took()}`;
  }
  // start_app returns once the node has booted, or fails when it gave up waiting for its peers.
  await control.run(node, 'start_app');
  if (!(await control.rabbitRunning(node))) {
    throw new StepFailedError(`start_app returned on \`${node}\`, but its rabbit app does not run`);
  }
  return `rabbit app started on \`${node}\` in ${took()}`;
}

function label({ node, first, how, hungWithPeers }: StartData): string {
  const lead = node === first ? ', the node that stopped last,' : '';
  const after = node === first ? '' : ` with \`${first}\``;
  if (how === 'app') return `start the rabbit app on \`${node}\`${lead} and wait until it has booted${after}`;
  if (how === 'service')
    return `start the RabbitMQ service (its VM) of \`${node}\`${lead} and wait until it has booted${after}`;
  if (hungWithPeers) return `end the VM of \`${node}\`, hung in its boot while other nodes run, and start it again`;
  return `\`${node}\` is booting already: wait for it to finish${after}; if it has not within ${BOOT_GRACE_MS / 1000} s, end its VM and start it again`;
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
    if (order) return { nodes: order.map((o) => o.node).reverse() };
    // boot-hang gives its order ready: the hung node alone when its peers run, else every node, the last seen first.
    const hung = alert.findings
      .filter((f) => f.check === bootHangCheck.id)
      .flatMap((f) => (f.data?.startOrder as string[] | undefined) ?? []);
    return hung.length > 0 ? { nodes: [...new Set(hung)] } : {};
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
    if (unreachable.length > 0 && !control.canControlService) {
      throw new WorkflowRefusedError(
        `Node control cannot reach ${code(unreachable.map(([node]) => node))}: their VMs are down or out of reach. ` +
          'start_app needs a running VM, and this cluster configures no `nodeControl.service` to start one: start the RabbitMQ service on those hosts (e.g. `systemctl start rabbitmq-server`), ' +
          `the one that stopped last first. (${unreachable.map(([node, state]) => `${node}: ${'error' in state ? state.error : ''}`).join('; ')})`,
      );
    }
    const hows = states.flatMap(([node, state]): [string, How][] => {
      if ('error' in state) return [[node, 'service']];
      if (state.running) return [];
      return [[node, state.booting ? 'boot' : 'app']];
    });
    if (hows.length === 0) {
      throw new WorkflowRefusedError(`The rabbit app already runs on ${code(nodes)}: nothing to start.`);
    }
    const first = hows[0]?.[0] as string;
    const running = states.filter(([, state]) => 'running' in state && state.running).map(([node]) => node);
    // Other nodes already run: a node still booting is not waiting for anyone the run starts.
    const peersRunning = (listed ?? []).some((n) => n.running === true) || running.length > 0;
    const warnings = [
      `\`${first}\` starts first: it must be the node that stopped last. Every node after it waits for it in its boot; if another node stopped after it, \`${first}\` itself waits (up to 5 minutes by default) and then fails.`,
    ];
    if (!listed) {
      warnings.push(
        'No management URL answers: the order comes from when warren last saw each node running. If the cluster stopped while warren could not see it, check the order against the nodes’ logs.',
      );
    }
    const viaService = hows.filter(([, how]) => how === 'service').map(([node]) => node);
    if (viaService.length > 0) {
      warnings.push(
        `Node control cannot reach ${code(viaService)}: their VMs are started with \`nodeControl.service\`.`,
      );
    }
    const booting = hows.filter(([, how]) => how === 'boot').map(([node]) => node);
    if (booting.length > 0 && !control.canControlService) {
      warnings.push(
        `${code(booting)} ${booting.length === 1 ? 'is' : 'are'} booting: without \`nodeControl.service\` a boot that still hangs cannot be ended from here.`,
      );
    }
    if (running.length > 0) warnings.push(`Already running, left alone: ${code(running)}.`);
    const toStart = hows.map(([node]) => node);
    return {
      summary: `start ${formatCount(toStart.length)} node(s), in this order: ${code(toStart)}`,
      warnings,
      actions: hows.map(([node, how]) => {
        // After a whole-cluster stop, the first node's failure names force-boot's way out.
        const next = node === first && !peersRunning ? hows[1]?.[0] : undefined;
        const step: StartData = {
          node,
          first,
          how,
          ...(how === 'boot' && peersRunning ? { hungWithPeers: true } : {}),
          ...(next ? { next } : {}),
        };
        return { key: `start:${node}`, label: label(step), data: { ...step } };
      }),
      guards: [
        'before each start: node control finds the node’s rabbit app not running yet (else skipped)',
        `before each node after \`${first}\`: the rabbit app runs on \`${first}\``,
      ],
    };
  },

  async guard(context, action) {
    const { node, first, how } = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    const state = await appState(control, node);
    if ('error' in state && how !== 'service') {
      return { reason: `node control cannot reach \`${node}\`: ${state.error}`, abort: true };
    }
    if ('running' in state && state.running)
      return { reason: `the rabbit app already runs on \`${node}\``, abort: false };
    if (node !== first) {
      const lead = await appState(control, first);
      if (!('running' in lead) || !lead.running) {
        return { reason: `\`${first}\` does not run: \`${node}\` would wait for it in its boot`, abort: true };
      }
    }
    return undefined;
  },

  async execute(context, action) {
    const step = data(action);
    const control = nodeControlOf(context, NEEDS_CLI);
    try {
      return await bringUp(control, step);
    } catch (error) {
      if (!step.next) throw error;
      const said = error instanceof Error ? error.message : String(error);
      throw new StepFailedError(
        `${said.replace(/\.?$/, '.')} If \`${step.node}\` is lost for good, boot \`${step.next}\` (stopped next to last) without it: \`/rabbit fix force-boot ${step.next} --lost ${step.node}\`, then start the others.`,
      );
    }
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
