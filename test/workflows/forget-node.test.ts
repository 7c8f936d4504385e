import { describe, expect, it } from 'vitest';
import { ManagementApiError, NodeControlError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import type { NodeControl } from '../../src/remediation/node-control.js';
import type { Sighting } from '../../src/remediation/node-sighting.js';
import { parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { forgetNodeWorkflow, refusal } from '../../workflows/forget-node.js';
import { nodeControlFake, workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';
const URLS: Record<string, string> = { 'http://n1': R1, 'http://n2': R2, 'http://n3': R3 };

interface Listed {
  name: string;
  running: boolean;
}

/**
 * A cluster as warren asks it: each management URL answers (or not) with its own node and its own /api/nodes; node
 * control says whether a node's rabbit app runs, or fails as for a VM that is down; forget_cluster_node removes the
 * node from every listing.
 */
function fakeCluster(options: {
  /** What each reachable URL lists; a URL left out does not answer. */
  views: Record<string, Listed[]>;
  /** Node control's answer per node: true/false for the rabbit app, undefined for a node that does not answer. */
  control: Record<string, boolean | undefined>;
  queues?: unknown[];
  /** Node control starts VMs too (nodeControl.service): a started node runs and answers its own URL. */
  service?: boolean;
}) {
  const views = structuredClone(options.views);
  const calls: string[] = [];
  const forgotten: string[] = [];
  const management = {
    cluster: 'local',
    baseUrls: Object.keys(URLS),
    get: async (path: string, schema: { parse(v: unknown): unknown }) => {
      const [first] = Object.values(views);
      if (path === '/api/nodes') return schema.parse(first ?? []);
      if (path === '/api/queues') return schema.parse(options.queues ?? []);
      if (path === '/api/connections' || path === '/api/consumers' || path === '/api/policies') return schema.parse([]);
      throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
    },
    nodes: async () => Object.values(views)[0] ?? [],
    healthCheckOf: async () => ({ ok: true }),
    getFrom: async (base: string, path: string, schema: { parse(v: unknown): unknown }) => {
      const listing = views[base];
      if (!listing) throw new ManagementApiError(path, undefined, `${path}: ECONNREFUSED`);
      if (path === '/api/overview') return schema.parse({ node: URLS[base] });
      if (path.startsWith('/api/nodes')) return schema.parse(listing);
      throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
    },
  };
  const nodeControl = nodeControlFake('forget-node', {
    rabbitRunning: async (node) => {
      const running = options.control[node];
      if (running === undefined) throw new NodeControlError(`environment on ${node} failed (exit 69): nodedown`);
      return running;
    },
    canControlService: options.service ?? false,
    startService: async (node) => {
      calls.push(`start ${node}`);
      options.control[node] = true;
      // It answers its own URL, listing the members its files keep.
      const url = Object.keys(URLS).find((u) => URLS[u] === node) as string;
      views[url] = Object.values(URLS)
        .filter((n) => !forgotten.includes(n))
        .map((name) => ({ name, running: name === node }));
      return '';
    },
    forgetClusterNode: async (node, lost, how) => {
      calls.push(`forget ${lost} on ${node}${how?.offline ? ' offline' : ''}`);
      forgotten.push(lost);
      for (const listing of Object.values(views)) {
        const at = listing.findIndex((n) => n.name === lost);
        if (at >= 0) listing.splice(at, 1);
      }
      return `Removing node ${lost} from the cluster`;
    },
  });
  return { management: management as unknown as ManagementClient, nodeControl, calls, views };
}

const contextOf = (cluster: { management: ManagementClient; nodeControl?: NodeControl }) =>
  workflowContext(cluster.management, cluster.nodeControl ? { nodeControl: cluster.nodeControl } : {});

/** rabbit3 is down: n1 and n2 list it as not running, its own URL does not answer, node control cannot reach it. */
const down = () => {
  const listing = [
    { name: R1, running: true },
    { name: R2, running: true },
    { name: R3, running: false },
  ];
  return { views: { 'http://n1': listing, 'http://n2': listing }, control: { [R1]: true, [R2]: true } };
};

const sighting = (over: Partial<Sighting>): Sighting => ({
  answered: 2,
  member: true,
  runningIn: [],
  answersItself: false,
  running: [R1, R2],
  control: { error: 'nodedown' },
  ...over,
});

describe('forget-node arguments', () => {
  it('takes one node name, and nothing a command line could misread', () => {
    const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
      parseWorkflowArgs(forgetNodeWorkflow, { positionals, flags });
    expect(parse([R3]).data).toEqual({ node: R3, offline: false });
    expect(parse([]).error?.issues[0]?.message).toBe('name the node that is gone for good, e.g. rabbit@old-host');
    expect(parse(['rabbit3@localhost;reboot']).error?.issues[0]?.message).toBe('a node is named like rabbit@host');
    expect(parse([R3]).data).toEqual({ node: R3, offline: false });
    expect(parse([R3], { offline: true }).error?.issues[0]?.message).toMatch(
      /^with --offline, name the stopped survivor/,
    );
    expect(parse([R3], { offline: true, on: R2 }).data).toEqual({ node: R3, offline: true, on: R2 });
    expect(parse([R3], { on: R2 }).error?.issues[0]?.message).toBe('--on goes with --offline');
    expect(parse([R3], { offline: true, on: 'rabbit2;reboot' }).success).toBe(false);
    expect(forgetNodeWorkflow.risk).toBe('critical');
    expect(forgetNodeWorkflow.needsNodeControl).toBe(true);
  });
});

describe('forget-node: is the node really gone?', () => {
  it('lets a node through that no one sees running and node control cannot reach, or finds stopped', () => {
    expect(refusal(sighting({}), R3)).toBeUndefined();
    expect(refusal(sighting({ control: { running: false, booting: false } }), R3)).toBeUndefined();
  });

  it('refuses a node whose rabbit app is booting: it is coming back', () => {
    expect(refusal(sighting({ control: { running: false, booting: true } }), R3)).toMatch(
      /is booting: it is coming back/,
    );
  });

  it('refuses a partitioned node (cut off, yet node control finds its app running), with the way back', () => {
    expect(refusal(sighting({ control: { running: true } }), R3)).toMatch(
      /its rabbit app runs: it is cut off from the other nodes \(a partition\), not gone\. Heal the partition instead/,
    );
  });

  it('refuses a node that any management URL sees running or answers from', () => {
    expect(refusal(sighting({ runningIn: [R2] }), R3)).toBe('`rabbit2@localhost` lists `rabbit3@localhost` as running');
    expect(refusal(sighting({ answersItself: true }), R3)).toBe(
      '`rabbit3@localhost` answers its own management API: it is running',
    );
  });

  it('refuses when nothing answers, when the node is no member, and when no other node runs (offline forget)', () => {
    expect(refusal(sighting({ answered: 0 }), R3)).toMatch(/^no management URL of the cluster answers/);
    expect(refusal(sighting({ member: false }), R3)).toBe(
      '`rabbit3@localhost` is not a member of the cluster (already forgotten?)',
    );
    expect(refusal(sighting({ running: [] }), R3)).toMatch(/forget it offline: `--offline --on NODE`/);
  });
});

describe('forget-node plan, guard, execute and verify', () => {
  it('plans one forget on a running member, naming what lived on the node', async () => {
    const cluster = fakeCluster({
      ...down(),
      queues: [
        { name: 'compute', vhost: '/', type: 'quorum', members: [R1, R2, R3], leader: R1, messages: 0 },
        { name: 'scheduler', vhost: '/', type: 'quorum', members: [R1, R2], leader: R2, messages: 0 },
        { name: 'reply_abc', vhost: '/', type: 'classic', node: R3, messages: 12 },
        { name: 'notifications.info', vhost: '/nova', type: 'classic', node: R3, messages: 3 },
        { name: 'elsewhere', vhost: '/', type: 'classic', node: R1, messages: 9 },
      ],
    });
    const plan = await forgetNodeWorkflow.plan(contextOf(cluster), { node: R3, offline: false });
    expect(plan.actions).toEqual([
      {
        key: `forget:${R3}`,
        label: 'remove `rabbit3@localhost` from the cluster: `forget_cluster_node` run against `rabbit1@localhost`',
        data: { node: R3, via: R1 },
      },
    ]);
    expect(plan.summary).toBe(
      'remove `rabbit3@localhost` from cluster local for good (1 quorum member(s) dropped, 2 classic queue(s) deleted with it)',
    );
    expect(plan.warnings[0]).toMatch(
      /^`rabbit3@localhost` is down: its VM does not answer node control \(.*nodedown\)/,
    );
    expect(plan.warnings).toContain(
      '2 classic queue(s) whose home is `rabbit3@localhost` are deleted from the cluster with it (15 message(s) when last counted): `reply_abc`, `notifications.info` (vhost `/nova`).',
    );
    expect(plan.warnings.join('\n')).toMatch(/1 quorum queue\(s\) have a member on it: `compute`\./);
    expect(plan.warnings.join('\n')).toMatch(/cannot be undone/);
    expect(cluster.calls).toEqual([]);
  });

  it('refuses to plan for a partitioned node, and when the cluster has no node control', async () => {
    const partitioned = fakeCluster({ ...down(), control: { [R1]: true, [R2]: true, [R3]: true } });
    await expect(forgetNodeWorkflow.plan(contextOf(partitioned), { node: R3, offline: false })).rejects.toThrow(
      /^Not forgetting `rabbit3@localhost`: node control reaches/,
    );
    const { management } = fakeCluster(down());
    await expect(forgetNodeWorkflow.plan(contextOf({ management }), { node: R3, offline: false })).rejects.toThrow(
      'cluster local has no node control: a node is forgotten with the CLI',
    );
  });

  it('aborts at the guard when the node came back, and forgets once, idempotently, then verifies', async () => {
    const cluster = fakeCluster(down());
    const context = contextOf(cluster);
    const [action] = (await forgetNodeWorkflow.plan(context, { node: R3, offline: false })).actions;
    if (!action) throw new Error('no action planned');
    expect(await forgetNodeWorkflow.guard(context, action, { node: R3, offline: false })).toBeUndefined();

    const back = fakeCluster({ ...down(), control: { [R1]: true, [R2]: true, [R3]: true } });
    expect(await forgetNodeWorkflow.guard(contextOf(back), action, { node: R3, offline: false })).toEqual({
      reason: expect.stringMatching(/its rabbit app runs/),
      abort: true,
    });

    expect(await forgetNodeWorkflow.execute(context, action, { node: R3, offline: false })).toBe(
      'removed `rabbit3@localhost` from the cluster (`forget_cluster_node` on `rabbit1@localhost`): Removing node rabbit3@localhost from the cluster',
    );
    expect(await forgetNodeWorkflow.execute(context, action, { node: R3, offline: false })).toBe(
      '`rabbit3@localhost` is not a member any more: already forgotten',
    );
    expect(cluster.calls).toEqual([`forget ${R3} on ${R1}`]);
    expect(await forgetNodeWorkflow.guard(context, action, { node: R3, offline: false })).toEqual({
      reason: '`rabbit3@localhost` is no longer a member',
      abort: false,
    });
    expect(await forgetNodeWorkflow.verify(context, [action], { node: R3, offline: false })).toEqual({
      ok: true,
      detail: 'no node lists `rabbit3@localhost` any more',
    });
  });

  it('runs the forget on another member when the planned one went down meanwhile', async () => {
    const cluster = fakeCluster(down());
    const context = contextOf(cluster);
    const [action] = (await forgetNodeWorkflow.plan(context, { node: R3, offline: false })).actions;
    if (!action) throw new Error('no action planned');
    for (const listing of Object.values(cluster.views)) {
      const r1 = listing.find((n) => n.name === R1);
      if (r1) r1.running = false;
    }
    await forgetNodeWorkflow.execute(context, action, { node: R3, offline: false });
    expect(cluster.calls).toEqual([`forget ${R3} on ${R2}`]);
  });
});

describe('forget-node --offline, every node down', () => {
  /** Every node stopped: no URL answers, node control reaches no VM. */
  const allDown = (service = true) => fakeCluster({ views: {}, control: {}, service });
  const offline = { node: R3, offline: true, on: R2 };

  it('forgets the node in the stopped survivor’s files, starts the survivor, and verifies it runs without it', async () => {
    const cluster = allDown();
    const context = contextOf(cluster);
    const plan = await forgetNodeWorkflow.plan(context, offline);
    expect(plan.summary).toMatch(/while every node is down, in the files of `rabbit2@localhost`, then start/);
    expect(plan.warnings.join('\n')).toMatch(/quorum members cannot be removed offline/);
    for (const action of plan.actions) {
      expect(await forgetNodeWorkflow.guard(context, action, offline)).toBeUndefined();
      await forgetNodeWorkflow.execute(context, action, offline);
    }
    expect(cluster.calls).toEqual([`forget ${R3} on ${R2} offline`, `start ${R2}`]);
    expect(await forgetNodeWorkflow.verify(context, plan.actions, offline)).toMatchObject({ ok: true });
  });

  it('refuses while a node runs, while the survivor’s VM answers, and without the service templates', async () => {
    await expect(forgetNodeWorkflow.plan(contextOf(fakeCluster(down())), offline)).rejects.toThrow(
      /run: forget it against a running member, without --offline/,
    );
    const vmUp = fakeCluster({ views: {}, control: { [R2]: false }, service: true });
    await expect(forgetNodeWorkflow.plan(contextOf(vmUp), offline)).rejects.toThrow(
      /reaches the VM of `rabbit2@localhost`: the offline form works on a stopped node's files/,
    );
    await expect(forgetNodeWorkflow.plan(contextOf(allDown(false)), offline)).rejects.toThrow(
      /takes `nodeControl.service`.*forget_cluster_node --offline rabbit3@localhost/,
    );
    const same = { node: R3, offline: true, on: R3 };
    await expect(forgetNodeWorkflow.plan(contextOf(allDown()), same)).rejects.toThrow(/are the same node/);
  });
});
