import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagementApiError, NodeControlError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import type { NodeAction, NodeControl } from '../../src/remediation/node-control.js';
import { type PlannedAction, parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { healPartitionWorkflow } from '../../workflows/heal-partition.js';
import { readFixture } from '../support/snapshot-fixtures.js';
import { nodeControlFake, workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';
const URLS: Record<string, string> = { 'http://n1': R1, 'http://n2': R2, 'http://n3': R3 };

interface NodeState {
  name: string;
  running: boolean;
  /** Absent while a node is starting, as the broker lists it. */
  partitions?: string[];
}

/**
 * A 3-node cluster as its management API and node control see it. The plan's snapshot reads `nodes` (captured
 * /api/nodes of a real partition) and `connections`; the steps read `state`, which node control changes: stop_app
 * stops a node, start_app brings it back reporting no partition (unless `rejoins` is false) and, once no node
 * outside the trusted side runs any more, clears the trusted nodes' lists as the real broker did in testing.
 */
function fakeCluster(
  options: {
    nodes?: string;
    connections?: string | null;
    state?: NodeState[];
    reachable?: string[];
    rejoins?: boolean;
    /** The `khepri_db` feature flag's state in /api/feature-flags; absent: the broker lists no such flag. */
    khepri?: 'enabled' | 'disabled';
  } = {},
) {
  const nodes = readFixture(options.nodes ?? 'partition-nodes.json') as NodeState[];
  const state = new Map(
    (options.state ?? nodes.map((n) => ({ name: n.name, running: true, partitions: n.partitions }))).map((n) => [
      n.name,
      structuredClone(n),
    ]),
  );
  const reachable = options.reachable ?? Object.keys(URLS);
  const answer = (path: string): unknown => {
    if (path === '/api/nodes') return nodes;
    if (path === '/api/connections') {
      if (options.connections === null) throw new ManagementApiError(path, 500, `HTTP 500 from ${path}`);
      return (readFixture(options.connections ?? 'partition-connections.json') as { items: unknown[] }).items;
    }
    if (path === '/api/queues' || path === '/api/consumers' || path === '/api/policies') return [];
    if (path === '/api/feature-flags' && options.khepri) return [{ name: 'khepri_db', state: options.khepri }];
    throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: Object.keys(URLS),
    get: async (path: string, schema: { parse(v: unknown): unknown }) => schema.parse(answer(path)),
    nodes: async () => answer('/api/nodes'),
    healthCheckOf: async () => ({ ok: true }),
    getFrom: async (base: string, path: string, schema: { parse(v: unknown): unknown }) => {
      if (!reachable.includes(base)) throw new ManagementApiError(path, undefined, `${path}: ECONNREFUSED`);
      if (path === '/api/overview') return schema.parse({ node: URLS[base] });
      if (path === '/api/nodes?columns=name,running,partitions') return schema.parse([...state.values()]);
      throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
    },
  };
  const calls: string[] = [];
  const nodeControl = nodeControlFake('heal-partition', {
    async run(node: string, action: NodeAction) {
      calls.push(`${action} ${node}`);
      const entry = state.get(node) as NodeState;
      if (action === 'stop_app') {
        entry.running = false;
        entry.partitions = undefined;
      } else if (action === 'start_app' && options.rejoins !== false) {
        entry.running = true;
        entry.partitions = [];
        const trusted = [...state.values()].filter((n) => n.partitions && n.partitions.length > 0);
        for (const t of trusted)
          if (t.partitions?.every((p) => !state.get(p)?.running || p === node)) t.partitions = [];
      }
      return '';
    },
  });
  return { management: management as unknown as ManagementClient, nodeControl, calls, state };
}

const contextOf = (cluster: { management: ManagementClient; nodeControl?: NodeControl }) =>
  workflowContext(cluster.management, cluster.nodeControl ? { nodeControl: cluster.nodeControl } : {});

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parseWorkflowArgs(healPartitionWorkflow, { positionals, flags });

const step = (phase: 'stop' | 'start', node: string, trusted = [R1], restart = [R2, R3]): PlannedAction => ({
  key: `${phase}:${node}`,
  label: `${phase} ${node}`,
  data: { phase, node, trusted, restart },
});

afterEach(() => {
  vi.useRealTimers();
});

describe('heal-partition arguments', () => {
  it('takes only --trust NODE', () => {
    expect(parse([]).data).toEqual({});
    expect(parse([], { trust: R2 }).data).toEqual({ trust: R2 });
    expect(parse([], { trust: 'rabbit2; rm -rf /' }).error?.issues[0]?.message).toBe(
      '--trust takes a node name such as rabbit@host-1',
    );
    expect(parse([], { trust: true }).error?.issues[0]?.message).toBe('--trust needs a node name');
    expect(parse(['now']).error?.issues[0]?.message).toMatch(/takes no arguments/);
    expect(parse([], { force: true }).error?.issues[0]?.message).toBe('heal-partition takes --trust NODE only');
    expect(healPartitionWorkflow.needsNodeControl).toBe(true);
    expect(healPartitionWorkflow.risk).toBe('critical');
  });
});

describe('heal-partition plan', () => {
  it('keeps the side with the most client connections and stops, then starts, every other node one at a time, the last stopped first', async () => {
    const plan = await healPartitionWorkflow.plan(contextOf(fakeCluster()), {});
    expect(plan.actions.map((a) => a.key)).toEqual([`stop:${R2}`, `stop:${R3}`, `start:${R3}`, `start:${R2}`]);
    expect(plan.actions.map((a) => a.data)).toEqual([
      { phase: 'stop', node: R2, trusted: [R1], restart: [R2, R3] },
      { phase: 'stop', node: R3, trusted: [R1], restart: [R2, R3] },
      { phase: 'start', node: R3, trusted: [R1], restart: [R2, R3] },
      { phase: 'start', node: R2, trusted: [R1], restart: [R2, R3] },
    ]);
    expect(plan.actions[0]?.label).toBe('stop the rabbit app on `rabbit2@localhost` (1 client connection on it)');
    expect(plan.actions[3]?.label).toBe(
      'start the rabbit app on `rabbit2@localhost` and wait (up to 90s) until it runs with the trusted side, reporting no partition',
    );
    expect(plan.summary).toBe(
      'heal a 2-way partition: keep `rabbit1@localhost` (4 client connections), stop then start the rabbit app on `rabbit2@localhost`, `rabbit3@localhost`',
    );
    expect(plan.warnings[0]).toBe(
      'Sides: KEEP [`rabbit1@localhost`] with 4 client connections; restart [`rabbit2@localhost`, `rabbit3@localhost`] with 2 client connections.',
    );
    expect(plan.warnings[1]).toBe(
      'Client connections on `rabbit2@localhost`, `rabbit3@localhost` (2) drop and must reconnect; until those nodes are back, the trusted side (`rabbit1@localhost`) carries all traffic.',
    );
    expect(plan.warnings.join('\n')).toMatch(/discarded/);
    // Neither the flag nor a version to go by (the captured 3.10 nodes list no applications).
    expect(plan.warnings).toContain(
      'Metadata store: unknown (neither the `khepri_db` feature flag nor the RabbitMQ version could be read).',
    );
    expect(plan.guards).toHaveLength(3);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('says which metadata store the cluster uses, from the khepri_db feature flag', async () => {
    const mnesia = await healPartitionWorkflow.plan(contextOf(fakeCluster({ khepri: 'disabled' })), {});
    expect(mnesia.warnings).toContain(
      'Metadata store: Mnesia. Each side of the partition runs on its own and diverges; it does not heal by itself unless cluster_partition_handling is autoheal or pause_minority. (the `khepri_db` feature flag is disabled.)',
    );
    expect(mnesia.warnings.join('\n')).not.toMatch(/Raft/);
    // On Khepri the kept side (rabbit1 alone, by client connections) is a Raft minority: the plan says so.
    const khepri = await healPartitionWorkflow.plan(contextOf(fakeCluster({ khepri: 'enabled' })), {});
    expect(khepri.warnings).toContainEqual(
      expect.stringMatching(
        /^Metadata store: Khepri \(Raft\)\. cluster_partition_handling modes do not apply: .*\(the `khepri_db` feature flag is enabled\.\)$/,
      ),
    );
    expect(khepri.warnings).toContain(
      "On Khepri the trusted side (1 of 3 nodes) holds no Raft majority: its metadata could not change during the partition, and the restarted nodes' could. Check that this is the side to keep.",
    );
  });

  it('refuses when no node reports a partition', async () => {
    await expect(
      healPartitionWorkflow.plan(contextOf(fakeCluster({ nodes: 'healthy-nodes.json' })), {}),
    ).rejects.toThrow('No node of `local` reports a network partition: nothing to heal.');
  });

  it('refuses a tie under the autoheal rule unless told which side to trust', async () => {
    const tied = fakeCluster({ nodes: 'partition-3way-nodes.json', connections: null });
    await expect(healPartitionWorkflow.plan(contextOf(tied), {})).rejects.toThrow(
      /^No side wins the autoheal rule .* Keep the side your clients use: run it again with --trust NODE\.$/,
    );
    const plan = await healPartitionWorkflow.plan(contextOf(tied), { trust: R3 });
    expect(plan.actions.map((a) => a.key)).toEqual([`stop:${R1}`, `stop:${R2}`, `start:${R2}`, `start:${R1}`]);
    expect(plan.warnings).toContain(
      'Client connections could not be listed: the side was chosen by node count only. Check which side clients use.',
    );
  });

  it('follows --trust over the autoheal rule, and says so', async () => {
    const plan = await healPartitionWorkflow.plan(contextOf(fakeCluster()), { trust: R3 });
    expect(plan.actions.map((a) => a.key)).toEqual([`stop:${R1}`, `start:${R1}`]);
    expect(plan.warnings).toContain(
      'Side chosen by hand (--trust rabbit3@localhost); the autoheal rule would keep `rabbit1@localhost`.',
    );
    await expect(healPartitionWorkflow.plan(contextOf(fakeCluster()), { trust: 'rabbit9@elsewhere' })).rejects.toThrow(
      '`rabbit9@elsewhere` is on no side of the partition',
    );
  });

  it('refuses when no management URL reaches a trusted node to follow the heal through', async () => {
    await expect(
      healPartitionWorkflow.plan(contextOf(fakeCluster({ reachable: ['http://n2', 'http://n3'] })), {}),
    ).rejects.toThrow(/None of the cluster's management URLs answers from a trusted node/);
  });
});

describe('heal-partition guard', () => {
  it('before a stop: passes while the cluster is partitioned and the node outside the trusted side', async () => {
    const cluster = fakeCluster();
    expect(await healPartitionWorkflow.guard(contextOf(cluster), step('stop', R2), {})).toBeUndefined();
    // The first loser stopped: the trusted node still lists both, and the second is still outside.
    cluster.state.set(R2, { name: R2, running: false });
    expect(await healPartitionWorkflow.guard(contextOf(cluster), step('stop', R3), {})).toBeUndefined();
  });

  it('before a stop: skips when the partition is gone or the node rejoined the trusted side', async () => {
    const healed = fakeCluster({
      state: [R1, R2, R3].map((name) => ({ name, running: true, partitions: [] })),
    });
    expect(await healPartitionWorkflow.guard(contextOf(healed), step('stop', R2), {})).toEqual({
      reason: 'the cluster is no longer partitioned',
      abort: false,
    });
    const rejoined = fakeCluster({
      state: [
        { name: R1, running: true, partitions: [R3] },
        { name: R2, running: true, partitions: [] },
        { name: R3, running: true, partitions: [R1] },
      ],
    });
    expect(await healPartitionWorkflow.guard(contextOf(rejoined), step('stop', R2), {})).toEqual({
      reason: '`rabbit2@localhost` is on the trusted side now',
      abort: false,
    });
  });

  it('aborts when no trusted node answers, or the trusted side split itself', async () => {
    const dark = fakeCluster({ reachable: ['http://n2', 'http://n3'] });
    const failure = await healPartitionWorkflow.guard(contextOf(dark), step('stop', R2), {});
    expect(failure?.abort).toBe(true);
    expect(failure?.reason).toMatch(/^no node of the trusted side \(`rabbit1@localhost`\) answers .* stay stopped/);
    const split = fakeCluster({
      state: [
        { name: R1, running: true, partitions: [R2, R3] },
        { name: R2, running: true, partitions: [R1] },
        { name: R3, running: true, partitions: [R1] },
      ],
    });
    expect(await healPartitionWorkflow.guard(contextOf(split), step('stop', R2, [R1, R3]), {})).toMatchObject({
      abort: true,
      reason: expect.stringMatching(/^the trusted side has split itself/),
    });
  });

  it('aborts when the cut has spread since planning to a node the plan does not restart', async () => {
    // Planned on a two-way split [R1] | [R2] while R3 still saw both; R3 then lost R1 as well.
    const spread = fakeCluster({
      state: [
        { name: R1, running: true, partitions: [R2, R3] },
        { name: R2, running: true, partitions: [R1] },
        { name: R3, running: true, partitions: [R1] },
      ],
    });
    expect(await healPartitionWorkflow.guard(contextOf(spread), step('stop', R2, [R1], [R2]), {})).toEqual({
      reason:
        'the partition has spread since it was planned (`rabbit3@localhost` is now outside the trusted side too): plan again',
      abort: true,
    });
    // The same state with R3 planned for a restart too is the plan holding.
    expect(await healPartitionWorkflow.guard(contextOf(spread), step('stop', R2, [R1], [R2, R3]), {})).toBeUndefined();
  });

  it('before a start: passes while the node is stopped, skips once it runs', async () => {
    const cluster = fakeCluster();
    cluster.state.set(R2, { name: R2, running: false });
    expect(await healPartitionWorkflow.guard(contextOf(cluster), step('start', R2), {})).toBeUndefined();
    expect(await healPartitionWorkflow.guard(contextOf(cluster), step('start', R3), {})).toEqual({
      reason: '`rabbit3@localhost` is running already',
      abort: false,
    });
  });
});

describe('heal-partition execute and verify', () => {
  it('runs the whole plan: stops both losers, starts each until it rejoins, and verifies the cluster whole', async () => {
    const cluster = fakeCluster();
    const context = contextOf(cluster);
    const plan = await healPartitionWorkflow.plan(context, {});
    const results: string[] = [];
    for (const action of plan.actions) {
      expect(await healPartitionWorkflow.guard(context, action, {})).toBeUndefined();
      results.push(await healPartitionWorkflow.execute(context, action, {}));
    }
    expect(cluster.calls).toEqual([`stop_app ${R2}`, `stop_app ${R3}`, `start_app ${R3}`, `start_app ${R2}`]);
    expect(results[0]).toBe('rabbit app stopped on `rabbit2@localhost`');
    expect(results[3]).toMatch(
      /^rabbit app started on `rabbit2@localhost`; running with the trusted side after \d+ s$/,
    );
    expect(await healPartitionWorkflow.verify(context, plan.actions, {})).toEqual({
      ok: true,
      detail: 'all 3 nodes run together and none reports a partition',
    });
  });

  it('is idempotent: starting a node that already runs with the trusted side does nothing', async () => {
    const cluster = fakeCluster({ state: [R1, R2, R3].map((name) => ({ name, running: true, partitions: [] })) });
    expect(await healPartitionWorkflow.execute(contextOf(cluster), step('start', R2), {})).toBe(
      '`rabbit2@localhost` already runs with the trusted side; not started again',
    );
    expect(cluster.calls).toEqual([]);
  });

  it('fails a start whose node does not rejoin within about 90 s, saying what it sees', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster({ rejoins: false });
    cluster.state.set(R2, { name: R2, running: false });
    const pending = healPartitionWorkflow.execute(contextOf(cluster), step('start', R2), {});
    const outcome = expect(pending).rejects.toThrow(
      'started `rabbit2@localhost`, but it has not rejoined the trusted side after 90s: `rabbit1@localhost` does not see it running',
    );
    await vi.advanceTimersByTimeAsync(95_000);
    await outcome;
  });

  it('refuses to act without node control', async () => {
    const { management } = fakeCluster();
    await expect(healPartitionWorkflow.execute(contextOf({ management }), step('stop', R2), {})).rejects.toThrow(
      NodeControlError,
    );
  });

  it('fails verification while a trusted node keeps listing the partition, and says how to clear it', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster({
      state: [
        { name: R1, running: true, partitions: [R2, R3] },
        { name: R2, running: true, partitions: [] },
        { name: R3, running: true, partitions: [] },
      ],
    });
    const pending = healPartitionWorkflow.verify(contextOf(cluster), [step('start', R2)], {});
    await vi.advanceTimersByTimeAsync(65_000);
    const verification = await pending;
    expect(verification.ok).toBe(false);
    expect(verification.detail).toBe(
      'after 1m: `rabbit1@localhost` still lists `rabbit2@localhost`, `rabbit3@localhost`. Only trusted nodes still ' +
        'list partitions: a node keeps that list until it restarts, so restart the trusted nodes one at a time to clear it',
    );
  });
});
