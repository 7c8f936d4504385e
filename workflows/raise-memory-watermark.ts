/**
 * `fix raise-memory-watermark [node…] [--to F]` (runbook 1.8): the emergency stopgap for a memory alarm, which
 * blocks every publisher in the cluster. It raises `vm_memory_high_watermark` on the alarmed nodes through node
 * control (`set_vm_memory_high_watermark` is CLI only) so publishers move again while someone finds what holds the
 * memory, usually a backlog nobody consumes. The new limit is not persisted: the node's config file applies again
 * at its next restart. Raising it takes memory from the OS and its page cache, and a node that keeps growing is then
 * killed by the OOM killer instead of blocking publishers, so the risk is critical (two approvers), the target is
 * capped at 0.7 of RAM, and the plan shows RAM, use and the new limit per node.
 */
import { z } from 'zod';
import { formatBytes } from '../src/chat/human-format.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { type ManagementNode, nodeSchema } from '../src/management/schemas.js';
import { formatFraction, MAX_WATERMARK } from '../src/remediation/node-control.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, nodeControlOf, type WorkflowContext } from '../src/remediation/workflow-definition.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'the watermark is set with the CLI';

interface Args {
  nodes: string[];
  to?: number;
}

interface StepData extends Record<string, unknown> {
  node: string;
  from: number;
  to: number;
}

/** RabbitMQ's default; a node found below it is brought back to it, not raised by a step. */
const DEFAULT_WATERMARK = 0.4;
const STEP = 0.1;
/** The memory monitor notices a new limit within a few seconds; the management API reports it a little later. */
const VERIFY_MS = 30_000;

const nodesSchema = z.array(nodeSchema);

async function nodes(context: WorkflowContext): Promise<ManagementNode[]> {
  return context.management.get('/api/nodes', nodesSchema, { columns: 'name,running,mem_used,mem_limit' });
}

/** The default target: RabbitMQ's default for a node set below it, one step up otherwise, never above the cap. */
export function defaultTarget(current: number): number {
  return Number(Math.min(MAX_WATERMARK, Math.max(DEFAULT_WATERMARK, current + STEP)).toFixed(4));
}

const fraction = (value: number) => `${formatFraction(value * 100)} %`;

export const raiseMemoryWatermarkWorkflow = defineWorkflow<Args>({
  name: 'raise-memory-watermark',
  description: 'Raise the memory watermark of alarmed nodes until their next restart (emergency stopgap)',
  risk: 'critical',
  usage: '[node …] [--to FRACTION]',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()),
      flags: z.strictObject(
        {
          to: z
            .string()
            .regex(/^(0?\.\d{1,4}|0)$/, '--to takes a fraction of RAM such as 0.5')
            .transform(Number)
            .optional(),
        },
        { error: 'raise-memory-watermark takes only --to' },
      ),
    })
    .transform(({ positionals, flags }) => ({
      nodes: positionals.length > 0 ? [...new Set(positionals)] : undefined,
      to: flags.to,
    })),
  args: z.object({
    nodes: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/, 'a node is named like rabbit@host'))
      .default([]),
    to: z
      .number()
      .min(0.1, '--to must be at least 0.1')
      .max(MAX_WATERMARK, `--to must be at most ${MAX_WATERMARK}: above it the OS is starved of memory`)
      .optional(),
  }),
  argsForAlert: (alert) => ({
    nodes: alert.findings
      .filter((f) => Array.isArray(f.data?.alarms) && (f.data.alarms as unknown[]).includes('memory'))
      .map((f) => String(f.data?.node)),
  }),

  async plan(context, args) {
    const nodeControl = nodeControlOf(context, NEEDS_CLI);
    const listed = await nodes(context);
    const named = args.nodes.map((name) => {
      const node = listed.find((n) => n.name === name);
      if (!node) throw new WorkflowRefusedError(`There is no node \`${name}\` in cluster ${context.cluster}.`);
      if (node.running === false) throw new WorkflowRefusedError(`\`${node.name}\` is not running.`);
      return node;
    });
    // Each node is asked itself: the management API's mem_alarm trails the node by a stats interval or more, and
    // the alert may have come from the node's own alarm endpoint first.
    const candidates = named.length > 0 ? named : listed.filter((n) => n.running !== false);
    const read = await Promise.all(
      candidates.map(async (node) => ({ node, memory: await nodeControl.memory(node.name) })),
    );
    const targets = named.length > 0 ? read : read.filter(({ memory }) => memory.alarm);
    if (targets.length === 0) {
      throw new WorkflowRefusedError(
        'No node is in memory alarm: nothing to raise. (A disk alarm is fixed by freeing disk, not by this.)',
      );
    }
    const actions = [];
    const lines: string[] = [];
    for (const { node, memory } of targets) {
      if (memory.relative === undefined || memory.totalBytes === undefined) {
        throw new WorkflowRefusedError(
          `\`${node.name}\` has an absolute memory limit (${formatBytes(memory.limitBytes)}): warren sets only relative ones; use rabbitmqctl.`,
        );
      }
      const to = args.to ?? defaultTarget(memory.relative);
      if (to <= memory.relative) {
        throw new WorkflowRefusedError(
          `\`${node.name}\` is at ${memory.relative} of RAM already${args.to === undefined ? `, the most warren sets (${MAX_WATERMARK})` : `; --to ${to} would not raise it`}. Free memory instead: find the backlog (\`queues\`) or the leaking client (\`connections\`).`,
        );
      }
      if (!memory.alarm) {
        throw new WorkflowRefusedError(
          `\`${node.name}\` is not in memory alarm: warren raises a watermark only to clear one. Raise it for good in the node's config.`,
        );
      }
      const newLimit = Math.round(memory.totalBytes * to);
      const used = node.mem_used;
      if (used !== undefined && used >= newLimit) {
        throw new WorkflowRefusedError(
          `\`${node.name}\` uses ${formatBytes(used)}, more than the ${formatBytes(newLimit)} that ${to} of its ${formatBytes(memory.totalBytes)} RAM allows: raising it that far would not clear the alarm.`,
        );
      }
      lines.push(
        `\`${node.name}\`: RAM ${formatBytes(memory.totalBytes)}, used ${used === undefined ? 'unknown' : formatBytes(used)}, limit ${formatBytes(memory.limitBytes)} → ${formatBytes(newLimit)}`,
      );
      const data: StepData = { node: node.name, from: memory.relative, to };
      actions.push({
        key: node.name,
        label: `set the memory watermark of \`${node.name}\` from ${memory.relative} to ${to} of RAM`,
        data,
      });
    }
    return {
      summary: `raise the memory watermark on ${actions.length} node(s) so blocked publishers resume`,
      warnings: [
        ...lines,
        `Until the next restart only: the node's config file (\`vm_memory_high_watermark\`) applies again then. Find and drain what holds the memory meanwhile.`,
        'Memory given to RabbitMQ is taken from the OS and its page cache: a node that keeps growing is then killed by the OOM killer instead of blocking publishers.',
      ],
      actions,
      guards: [
        'the node still runs, is still in memory alarm (asked of the node), and its watermark is still the one planned (nobody changed it meanwhile)',
      ],
    };
  },

  async guard(context, action) {
    const { node, from } = action.data as StepData;
    const current = (await nodes(context)).find((n) => n.name === node);
    if (!current || current.running === false) return { reason: `\`${node}\` is not running`, abort: true };
    const memory = await nodeControlOf(context, NEEDS_CLI).memory(node);
    if (memory.relative !== from) {
      return { reason: `its watermark is ${memory.relative ?? 'absolute'} now, not the planned ${from}`, abort: true };
    }
    if (!memory.alarm) return { reason: 'its memory alarm has cleared by itself', abort: false };
    return undefined;
  },

  async execute(context, action) {
    const { node, to } = action.data as StepData;
    const nodeControl = nodeControlOf(context, NEEDS_CLI);
    if ((await nodeControl.memory(node)).relative === to) return `already at ${to} of RAM`;
    await nodeControl.setMemoryWatermark(node, to);
    return `set to ${to} of RAM (${fraction(to)}) until the node restarts`;
  },

  async verify(context, done) {
    const lines: string[] = [];
    let ok = true;
    for (const action of done) {
      const { node, to } = action.data as StepData;
      const memory = await nodeControlOf(context, NEEDS_CLI).memory(node);
      if (memory.relative !== to) {
        ok = false;
        lines.push(`\`${node}\` reports ${memory.relative ?? 'an absolute limit'}, not ${to}`);
        continue;
      }
      // Asked of the node itself: the management API reports the cleared alarm a stats interval or more later.
      const cleared = await pollUntil(async () => {
        const now = await nodeControlOf(context, NEEDS_CLI).memory(node);
        return now.alarm ? undefined : now;
      }, VERIFY_MS);
      if (!cleared) {
        ok = false;
        lines.push(`\`${node}\` is at ${to} of RAM but still in memory alarm: it needs memory freed`);
      } else {
        lines.push(`\`${node}\`: alarm cleared, limit now ${formatBytes(cleared.limitBytes)}`);
      }
    }
    return { ok, detail: `${lines.join('; ')}. Until the next restart only; drain what holds the memory.` };
  },
});
