/**
 * `fix repair-stream-replicas [stream-glob]`: adds the replicas that the stream-replicas check finds missing. A
 * stream's replicas are placed when it is declared, so a node that joined later, or was reset and re-joined, holds
 * none of the existing streams (what kolla-ansible's repair script fixes with `rabbitmq-streams add_replica`). Only
 * the CLI adds a stream replica, so this runs through node control: one step per stream and node, against that
 * node. Before each step the node is re-read (still in the cluster and running) and so is the stream (still there,
 * still without a replica on the node). Guards and verify ask the broker (`rabbitmq-streams stream_status`), not the
 * management API, whose stream members can lag a replica change on 4.0.5. Risk medium: a new replica copies the
 * stream's retained data to the node (disk and network while it catches up); nothing is removed.
 */

import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { inVhost } from '../src/chat/vhost-text.js';
import { formatDuration } from '../src/config/duration.js';
import { WorkflowRefusedError } from '../src/errors.js';
import { streamReplicasCheck } from '../src/health/checks/stream-replicas.js';
import { queueKey } from '../src/health/cluster-snapshot.js';
import { SnapshotFetcher } from '../src/health/snapshot-fetcher.js';
import { fetchStreamReplicas } from '../src/health/stream-stats.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, nodeControlOf, type PlannedAction } from '../src/remediation/workflow-definition.js';
import { globMatch } from '../src/tap/glob.js';

/** Why the workflow needs node control, for a cluster without it. */
const NEEDS_CLI = 'stream replicas are added with the CLI';

interface Args {
  pattern?: string;
}

interface StepData extends Record<string, unknown> {
  vhost: string;
  name: string;
  node: string;
}

/** How long the verification waits for the broker to list the new replicas as members. */
const VERIFY_MS = 30_000;

const data = (action: PlannedAction) => action.data as StepData;

export const repairStreamReplicasWorkflow = defineWorkflow<Args>({
  name: 'repair-stream-replicas',
  description: 'Add the replicas streams miss on running nodes (rabbitmq-streams add_replica)',
  risk: 'medium',
  usage: '[stream-name-glob]',
  needsNodeControl: true,
  words: z
    .object({
      positionals: z.array(z.string()).max(1, 'at most one stream name pattern (a glob such as *_fanout)'),
      flags: z.strictObject({}, { error: 'repair-stream-replicas takes no flags' }),
    })
    .transform(({ positionals }) => ({ pattern: positionals[0] })),
  args: z.object({ pattern: z.string().optional() }),
  argsForAlert: () => ({}),

  async plan(context, args) {
    // node control settles a stream whose stats list two sets of members (stream-stats.ts)
    const broker = nodeControlOf(context, NEEDS_CLI);
    const snapshot = await new SnapshotFetcher(context.cluster, context.management, { streamMembers: broker }).fetch();
    if (!snapshot.nodes) throw new WorkflowRefusedError(`Could not list the nodes: ${snapshot.errors.nodes}`);
    if (!snapshot.streams) throw new WorkflowRefusedError(`Could not read the streams: ${snapshot.errors.streams}`);
    const findings = streamReplicasCheck.evaluate(snapshot, {
      thresholds: context.health.thresholds,
      history: new Map(),
    });
    const missing = findings
      .map((f) => f.data as { vhost: string; name: string; missing: string[] })
      .filter((s) => !args.pattern || globMatch(args.pattern, s.name))
      .flatMap((s) => s.missing.map((node): StepData => ({ vhost: s.vhost, name: s.name, node })));
    if (missing.length === 0) {
      throw new WorkflowRefusedError(
        `Every stream on \`${context.cluster}\`${args.pattern ? ` matching \`${args.pattern}\`` : ''} has a replica on every running node: nothing to repair.`,
      );
    }
    const chosen = missing.slice(0, context.remediation.maxItemsPerRun);
    const streams = new Set(chosen.map((s) => queueKey(s))).size;
    const nodes = [...new Set(chosen.map((s) => s.node))].sort();
    return {
      summary: `add ${formatCount(chosen.length)} stream replica(s) to ${formatCount(streams)} stream(s) on ${nodes.map((n) => `\`${n}\``).join(', ')}`,
      warnings: [
        'Each new replica copies the stream’s retained messages to its node: disk and network load there until it catches up. Nothing is removed.',
      ],
      actions: chosen.map((s) => ({
        key: `${queueKey(s)}@${s.node}`,
        vhosts: [s.vhost],
        label: `add a replica of \`${s.name}\`${inVhost(s.vhost)} on \`${s.node}\``,
        data: s,
      })),
      guards: [
        'the node is still in the cluster and running (else the run stops)',
        'the stream still exists and still has no replica on the node (else the step is skipped)',
      ],
      ...(missing.length > chosen.length ? { leftOut: missing.length - chosen.length } : {}),
    };
  },

  async guard(context, action) {
    const { vhost, name, node } = data(action);
    const listed = (await context.management.nodes()).find((n) => n.name === node);
    if (!listed) return { reason: `\`${node}\` is no longer in the cluster`, abort: true };
    if (listed.running === false) return { reason: `\`${node}\` is not running`, abort: true };
    if (!(await fetchStreamReplicas(context.management, vhost, name)))
      return { reason: 'the stream is gone', abort: false };
    // the broker's own answer: the management API's can lag a replica change (stream-stats.ts)
    const members = await nodeControlOf(context, NEEDS_CLI).streamMembers(node, vhost, name);
    if (members.includes(node)) return { reason: `it already has a replica on \`${node}\``, abort: false };
    return undefined;
  },

  async execute(context, action) {
    const { vhost, name, node } = data(action);
    const output = await nodeControlOf(context, NEEDS_CLI).addStreamReplica(node, vhost, name, node);
    return `added a replica of \`${name}\` on \`${node}\`${output ? `: ${output.split('\n').at(-1)}` : ''}`;
  },

  async verify(context, done) {
    let pending: string[] = [];
    const ok = await pollUntil(async () => {
      pending = [];
      for (const action of done) {
        const { vhost, name, node } = data(action);
        if (!(await fetchStreamReplicas(context.management, vhost, name))) continue;
        const members = await nodeControlOf(context, NEEDS_CLI).streamMembers(node, vhost, name);
        if (!members.includes(node)) pending.push(`\`${name}\` on \`${node}\``);
      }
      return pending.length === 0 ? true : undefined;
    }, VERIFY_MS);
    return ok
      ? { ok: true, detail: `every stream has its replica on the node named (${formatCount(done.length)} added)` }
      : { ok: false, detail: `still no replica after ${formatDuration(VERIFY_MS)}: ${pending.join(', ')}` };
  },
});
