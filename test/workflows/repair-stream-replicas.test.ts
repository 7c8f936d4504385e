import { describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { nodesSchema } from '../../src/management/schemas.js';
import type { NodeControl } from '../../src/remediation/node-control.js';
import type { WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { repairStreamReplicasWorkflow as workflow } from '../../workflows/repair-stream-replicas.js';
import { readFixture } from '../support/snapshot-fixtures.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';

type Stream = Record<string, unknown> & { name: string; vhost: string; members: string[] };

/** The kolla layout captured on 4.0 plus `streams`, each stream's stats answered from its entry. */
function cluster(streams: Stream[], opts: { r3Running?: boolean } = {}) {
  const listing = readFixture('kolla-queues.json', '4.0') as Record<string, unknown>[];
  const stats = new Map(streams.map((s) => [`/api/queues/${encodeURIComponent(s.vhost)}/${s.name}`, s]));
  const nodes = (readFixture('kolla-nodes.json', '4.0') as Record<string, unknown>[]).map((n) =>
    n.name === R3 && opts.r3Running === false ? { ...n, running: false } : n,
  );
  const answer = (p: string): unknown => {
    if (p === '/api/queues')
      return [...listing.filter((q) => q.type !== 'stream'), ...streams.map((s) => ({ ...s, type: 'stream' }))];
    if (p === '/api/nodes') return nodes;
    if (['/api/consumers', '/api/connections', '/api/policies', '/api/feature-flags'].includes(p)) return [];
    const stream = stats.get(p);
    if (stream) return { ...stream, arguments: {} };
    throw new ManagementApiError(p, 404, `HTTP 404 from ${p}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: ['http://n1'],
    get: async (p: string, schema: { parse(v: unknown): unknown }, _params?: unknown, o?: { repeatedKeys?: boolean }) =>
      schema.parse(o?.repeatedKeys ? { value: answer(p), repeated: [] } : answer(p)),
    getFrom: async (_b: string, _p: string, schema: { parse(v: unknown): unknown }) => schema.parse({ node: R1 }),
    healthCheckOf: async () => ({ ok: true }),
    nodes: async () => nodesSchema.parse(answer('/api/nodes')),
  };
  const added: string[][] = [];
  const nodeControl = {
    addStreamReplica: async (node: string, vhost: string, stream: string, replica: string) => {
      added.push([node, vhost, stream, replica]);
      stats.get(`/api/queues/${encodeURIComponent(vhost)}/${stream}`)?.members.push(replica);
      return 'Adding a replica…';
    },
    streamMembers: async (_node: string, vhost: string, name: string) => {
      const stream = stats.get(`/api/queues/${encodeURIComponent(vhost)}/${name}`);
      if (!stream) throw new Error(`stream_status: no stream ${name}`);
      return [...stream.members].sort();
    },
  } as unknown as NodeControl;
  const context = (withControl = true): WorkflowContext => ({
    cluster: 'local',
    vhost: '/',
    management: management as unknown as ManagementClient,
    ...(withControl ? { nodeControl } : {}),
    remediation: remediationSchema.parse({}),
    health: healthSchema.parse({}),
    runId: 'r-0000abcd',
    requester: 'U0REQ',
  });
  return { context, added };
}

const stream = (name: string, members: string[], vhost = '/'): Stream => ({
  name,
  vhost,
  members,
  online: members,
  leader: R1,
});

describe('repair-stream-replicas', () => {
  it('refuses to plan without node control: only the CLI adds a stream replica', async () => {
    const { context } = cluster([stream('compute_fanout', [R1, R2])]);
    await expect(workflow.plan(context(false), {})).rejects.toThrow(/no node control/);
  });

  it('plans one step per stream and missing node, optionally for the streams a glob names', async () => {
    const { context } = cluster([
      stream('compute_fanout', [R1, R2]),
      stream('scheduler_fanout', [R1]),
      stream('whole_fanout', [R1, R2, R3]),
    ]);
    const plan = await workflow.plan(context(), {});
    expect(plan.actions.map((a) => a.key)).toEqual([
      `//compute_fanout@${R3}`,
      `//scheduler_fanout@${R2}`,
      `//scheduler_fanout@${R3}`,
    ]);
    expect(plan.summary).toMatch(/add 3 stream replica\(s\) to 2 stream\(s\)/);
    const only = await workflow.plan(context(), { pattern: 'compute_*' });
    expect(only.actions.map((a) => a.key)).toEqual([`//compute_fanout@${R3}`]);
    await expect(workflow.plan(context(), { pattern: 'whole_*' })).rejects.toThrow(WorkflowRefusedError);
    await expect(workflow.plan(context(), { pattern: 'whole_*' })).rejects.toThrow(/nothing to repair/);
  });

  it('adds each replica against the node named, in its vhost, and verifies it is listed', async () => {
    const { context, added } = cluster([stream('compute_fanout', [R1, R2], '/nova')]);
    const plan = await workflow.plan(context(), {});
    const [action] = plan.actions;
    if (!action) throw new Error('no step planned');
    expect(await workflow.guard(context(), action, {})).toBeUndefined();
    expect(await workflow.execute(context(), action, {})).toMatch(/added a replica of `compute_fanout` on `rabbit3/);
    expect(added).toEqual([[R3, '/nova', 'compute_fanout', R3]]);
    // the step is idempotent: re-run after the replica exists, its guard skips it
    expect(await workflow.guard(context(), action, {})).toEqual({
      reason: `it already has a replica on \`${R3}\``,
      abort: false,
    });
    expect(await workflow.verify(context(), [action], {})).toMatchObject({ ok: true });
  });

  it('stops the run when the node is no longer running, and skips a stream deleted since the plan', async () => {
    const down = cluster([stream('compute_fanout', [R1, R2])], { r3Running: false });
    const plan = await cluster([stream('compute_fanout', [R1, R2])]).context;
    const [action] = (await workflow.plan(plan(), {})).actions;
    if (!action) throw new Error('no step planned');
    expect(await workflow.guard(down.context(), action, {})).toEqual({
      reason: `\`${R3}\` is not running`,
      abort: true,
    });
    const gone = cluster([]);
    expect(await workflow.guard(gone.context(), action, {})).toEqual({ reason: 'the stream is gone', abort: false });
  });
});
