import { describe, expect, it, vi } from 'vitest';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { nodesSchema } from '../../src/management/schemas.js';
import { CHANGE_NOT_PERMITTED_RETRY_MS, MEMBER_BATCH } from '../../src/remediation/quorum-replicas.js';
import type { PlannedAction } from '../../src/remediation/workflow-definition.js';
import { growQuorumQueuesWorkflow } from '../../workflows/grow-quorum-queues.js';
import { rebalanceQuorumLeadersWorkflow } from '../../workflows/rebalance-quorum-leaders.js';
import { shrinkForgottenMembersWorkflow } from '../../workflows/shrink-forgotten-members.js';
import { readFixture } from '../support/snapshot-fixtures.js';
import { nodeControlFake, workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R3 = 'rabbit3@localhost';
const GONE = 'rabbit@old-host';

type Queue = Record<string, unknown> & { name: string; vhost: string; type?: string; members?: string[] };

/** The kolla layout captured on RabbitMQ 4.0, its quorum queues changed by `edit`. */
function kollaQueues(edit: (q: Queue) => Queue): Queue[] {
  const body = readFixture('kolla-queues.json', '4.0') as Queue[] | { items: Queue[] };
  const items = Array.isArray(body) ? body : body.items;
  return items.map((q) => (q.type === 'quorum' ? edit(structuredClone(q)) : q));
}

/** The kolla cluster's nodes, each reporting RabbitMQ `version` when given (e.g. a 3.x cluster). */
function nodesAt(version?: string, uptime?: Record<string, number>): unknown {
  const nodes = readFixture('kolla-nodes.json', '4.0') as {
    name: string;
    uptime: number;
    applications: { name: string; version: string }[];
  }[];
  return nodes.map((n) => ({
    ...n,
    uptime: uptime?.[n.name] ?? n.uptime,
    applications: n.applications.map((a) => (a.name === 'rabbit' && version ? { ...a, version } : a)),
  }));
}

const path = (q: { vhost: string; name: string }) => `${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}`;

/**
 * A management API over `queues` whose replica endpoints change members; requests are recorded. The rebalance POST
 * spreads the quorum leaders over the three nodes, from its `rebalanceMovesOn`th time on (a broker that skipped the
 * first ones: a rebalance under way, followers not caught up).
 */
function fakeManagement(
  queues: Queue[],
  opts: {
    replicaStatus?: number;
    rebalanceMovesOn?: number;
    notPermittedTimes?: number;
    version?: string;
    /** Uptime in ms by node name, over the fixture's (about two minutes). */
    uptime?: Record<string, number>;
  } = {},
) {
  let refusals = 0;
  const byPath = new Map(queues.map((q) => [`/api/queues/${path(q)}`, q]));
  const sent: { method: string; path: string; data?: unknown }[] = [];
  const answer = (p: string): unknown => {
    if (p === '/api/queues') return [...byPath.values()];
    if (p === '/api/nodes') return nodesAt(opts.version, opts.uptime);
    if (p === '/api/consumers' || p === '/api/connections' || p === '/api/policies' || p === '/api/feature-flags') {
      return [];
    }
    const queue = byPath.get(p);
    if (queue) return queue;
    throw new ManagementApiError(p, 404, `HTTP 404 from ${p}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: ['http://n1'],
    get: async (p: string, schema: { parse(v: unknown): unknown }) => schema.parse(answer(p)),
    getFrom: async (_b: string, _p: string, schema: { parse(v: unknown): unknown }) => schema.parse({ node: R1 }),
    healthCheckOf: async () => ({ ok: true }),
    nodes: async () => nodesSchema.parse(answer('/api/nodes')),
    send: async (method: string, p: string, o: { data?: unknown } = {}) => {
      sent.push({ method, path: p, data: o.data });
      if (opts.replicaStatus) return { status: opts.replicaStatus };
      // Ra's answer while a new leader has not committed an entry of its term yet.
      if (p.includes('/replicas/') && refusals < (opts.notPermittedTimes ?? 0)) {
        refusals++;
        throw new ManagementApiError(p, 503, `HTTP 503 from ${method} ${p}: cluster_change_not_permitted`);
      }
      const asked = sent.filter((r) => r.path === '/api/rebalance/queues').length;
      if (p === '/api/rebalance/queues' && asked >= (opts.rebalanceMovesOn ?? 1)) {
        const nodes = [R1, 'rabbit2@localhost', R3];
        [...byPath.values()]
          .filter((q) => q.type === 'quorum')
          .forEach((q, i) => {
            q.leader = nodes[i % 3];
            q.node = nodes[i % 3];
          });
      }
      const m = /^\/api\/queues\/quorum\/(.+)\/replicas\/(add|delete)$/.exec(p);
      const queue = m ? byPath.get(`/api/queues/${m[1]}`) : undefined;
      const node = (o.data as { node?: string } | undefined)?.node as string;
      if (queue && m?.[2] === 'add') {
        queue.members = [...(queue.members ?? []), node];
        queue.online = [...((queue.online as string[]) ?? []), node];
      }
      if (queue && m?.[2] === 'delete') queue.members = queue.members?.filter((x) => x !== node);
      return { status: 204 };
    },
  };
  return { management: management as unknown as ManagementClient, sent };
}

/**
 * From now on a single queue read answers without `members` for the next `times` reads: a quorum queue between
 * leaders, as 4.0 lists it. `times` can be changed later.
 */
function hideMembers(management: ManagementClient, times: number): { times: number } {
  const hidden = { times };
  const get = management.get.bind(management);
  management.get = (async (p: string, schema: { parse(v: unknown): unknown }) => {
    const raw = (await get(p, { parse: (v: unknown) => v } as never)) as Queue;
    if (!p.startsWith('/api/queues/') || hidden.times <= 0) return schema.parse(raw);
    hidden.times--;
    const { members: _, ...memberless } = raw;
    return schema.parse(memberless);
  }) as typeof management.get;
  return hidden;
}

const contextOf = (management: ManagementClient, remediation: Record<string, unknown> = {}) =>
  workflowContext(management, { remediation });

const withoutR3 = (q: Queue) => ({
  ...q,
  members: q.members?.filter((m) => m !== R3),
  online: (q.online as string[]).filter((m) => m !== R3),
});

describe('grow-quorum-queues', () => {
  it('plans the queues lacking a member on the node in batches, adds them over HTTP, and verifies', async () => {
    const { management, sent } = fakeManagement(kollaQueues(withoutR3));
    const context = contextOf(management);
    const args = { node: R3 };
    const plan = await growQuorumQueuesWorkflow.plan(context, args);
    expect(plan.summary).toBe(
      `add a member on \`${R3}\` to 7 quorum queue(s): 6 RPC (nova-compute, nova-scheduler), 1 notification, in 1 batch(es) of up to ${MEMBER_BATCH}`,
    );
    const [batch] = plan.actions;
    expect(batch).toBeDefined();
    expect(await growQuorumQueuesWorkflow.guard(context, batch as never, args)).toBeUndefined();
    expect(await growQuorumQueuesWorkflow.execute(context, batch as never, args)).toBe(
      `added 7 member(s) on \`${R3}\``,
    );
    expect(sent[0]).toEqual({
      method: 'POST',
      path: '/api/queues/quorum/%2F/compute/replicas/add',
      data: { node: R3 },
    });
    // Idempotent: a second run finds every member there.
    expect(await growQuorumQueuesWorkflow.execute(context, batch as never, args)).toBe(
      `added 0 member(s) on \`${R3}\`, 7 already a member`,
    );
    expect(await growQuorumQueuesWorkflow.verify(context, plan.actions, args)).toMatchObject({ ok: true });
  });

  it('refuses a node that is not running or not in the cluster, and a node no queue lacks', async () => {
    const { management } = fakeManagement(kollaQueues((q) => q));
    const context = contextOf(management);
    await expect(growQuorumQueuesWorkflow.plan(context, { node: 'rabbit@nowhere' })).rejects.toThrow(
      /is not in cluster/,
    );
    await expect(growQuorumQueuesWorkflow.plan(context, { node: R3 })).rejects.toThrow(WorkflowRefusedError);
    const guard = await growQuorumQueuesWorkflow.guard(
      context,
      { key: 'batch-1', label: '', data: { node: 'rabbit@nowhere', queues: [] } },
      { node: 'rabbit@nowhere' },
    );
    expect(guard).toEqual({ reason: '`rabbit@nowhere` is no longer in the cluster', abort: true });
  });

  it('says what to run by hand where the broker has no replica endpoint', async () => {
    const { management } = fakeManagement(kollaQueues(withoutR3), { replicaStatus: 404 });
    const context = contextOf(management);
    const plan = await growQuorumQueuesWorkflow.plan(context, { node: R3 });
    await expect(growQuorumQueuesWorkflow.execute(context, plan.actions[0] as never, { node: R3 })).rejects.toThrow(
      /rabbitmq-queues add_member --vhost \/ compute rabbit3@localhost/,
    );
  });

  it('takes the node from the alert', () => {
    const alert = { findings: [{ check: 'quorum-members', data: { gap: 'missing', node: R3 } }] };
    expect(growQuorumQueuesWorkflow.argsForAlert?.(alert as never)).toEqual({ node: R3 });
  });
});

describe('grow-quorum-queues between leaders', () => {
  it('reads a queue listed without members again, and does not add a member it already has', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const one = kollaQueues(withoutR3)
        .filter((q) => q.type === 'quorum')
        .slice(0, 1);
      const { management, sent } = fakeManagement(one);
      const context = contextOf(management);
      const plan = await growQuorumQueuesWorkflow.plan(context, { node: R3 });
      // Added meanwhile (an earlier attempt whose answer was lost), then listed without members for a moment.
      const queue = one[0] as Queue;
      queue.members = [...(queue.members ?? []), R3];
      hideMembers(management, 2);
      const done = growQuorumQueuesWorkflow.execute(context, plan.actions[0] as never, { node: R3 });
      await vi.advanceTimersByTimeAsync(2_000);
      expect(await done).toBe(`added 0 member(s) on \`${R3}\`, 1 already a member`);
      expect(sent.filter((s) => s.method === 'POST')).toHaveLength(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * A removal step's answer once its watch for the member coming back is over (fake timers: the clock is moved past
 * it, `ms` at most).
 */
async function held<T>(step: Promise<T>, ms = 10_000): Promise<T> {
  for (let waited = 0; waited < ms; waited += 1_000) await vi.advanceTimersByTimeAsync(1_000);
  return step;
}

describe('shrink-forgotten-members', () => {
  const withGone = (q: Queue) => ({ ...q, members: [...(q.members ?? []), GONE] });
  /** One quorum queue of the kolla layout, with a member on the forgotten node. */
  const oneQuorumQueue = () =>
    kollaQueues(withGone)
      .filter((q) => q.type === 'quorum')
      .slice(0, 1);

  it('removes the members on a node outside the cluster, with two approvers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      expect(shrinkForgottenMembersWorkflow.risk).toBe('critical');
      const { management, sent } = fakeManagement(kollaQueues(withGone));
      const context = contextOf(management);
      const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
      expect(plan.summary).toMatch(/from 7 quorum queue\(s\)/);
      expect(
        await shrinkForgottenMembersWorkflow.guard(context, plan.actions[0] as never, { node: GONE }),
      ).toBeUndefined();
      expect(
        await held(shrinkForgottenMembersWorkflow.execute(context, plan.actions[0] as never, { node: GONE })),
      ).toBe(`removed 7 member(s) on \`${GONE}\``);
      expect(sent.every((s) => s.method === 'DELETE' && (s.data as { node: string }).node === GONE)).toBe(true);
      expect(sent).toHaveLength(7);
      expect(await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE })).toMatchObject({
        ok: true,
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('removes a member again when the broker lists it again after removing it, and says so', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const one = oneQuorumQueue();
      const { management, sent } = fakeManagement(one);
      const context = contextOf(management);
      const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
      const done = shrinkForgottenMembersWorkflow.execute(context, plan.actions[0] as never, { node: GONE });
      // RabbitMQ 4.0 after an offline forget: the removal answered, and the leader's tick puts the member back.
      await vi.advanceTimersByTimeAsync(3_000);
      (one[0] as Queue).members = [...((one[0] as Queue).members ?? []), GONE];
      expect(await held(done)).toBe(
        `removed 1 member(s) on \`${GONE}\`; 1 removal(s) done again: the broker listed the member again after removing it`,
      );
      expect(sent.filter((s) => s.method === 'DELETE')).toHaveLength(2);
      expect(await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE })).toMatchObject({
        ok: true,
      });

      // One that keeps coming back is left, named, for verify to fail on.
      const stubborn = oneQuorumQueue();
      const fake = fakeManagement(stubborn);
      const send = fake.management.send.bind(fake.management);
      fake.management.send = (async (...args: Parameters<typeof send>) => {
        const answer = await send(...args);
        (stubborn[0] as Queue).members = [...((stubborn[0] as Queue).members ?? []), GONE];
        return answer;
      }) as typeof send;
      const gaveUp = held(
        shrinkForgottenMembersWorkflow.execute(contextOf(fake.management), plan.actions[0] as never, { node: GONE }),
        70_000,
      );
      expect(await gaveUp).toMatch(/done again: .* and still lists it on `.+`$/);
      expect(
        await shrinkForgottenMembersWorkflow.verify(contextOf(fake.management), plan.actions, { node: GONE }),
      ).toMatchObject({
        ok: false,
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('says that quorum queues listed without members (no leader yet) are not in the plan', async () => {
    let first = true;
    const queues = kollaQueues((q) => {
      if (!first) return withGone(q);
      first = false;
      const { members: _, ...memberless } = q;
      return memberless as Queue;
    });
    const plan = await shrinkForgottenMembersWorkflow.plan(contextOf(fakeManagement(queues).management), {
      node: GONE,
    });
    expect(plan.summary).toMatch(/from 6 quorum queue\(s\)/);
    expect(plan.warnings.join('\n')).toMatch(
      /1 quorum queue\(s\) are listed without members .* the last step lists the queues again/,
    );

    const all = await shrinkForgottenMembersWorkflow.plan(contextOf(fakeManagement(kollaQueues(withGone)).management), {
      node: GONE,
    });
    expect(all.warnings.join('\n')).not.toMatch(/without members/);
  });

  it('warns that a node started less than a minute ago may still list queues without their member there', async () => {
    const young = fakeManagement(kollaQueues(withGone), { uptime: { [R3]: 12_400 } });
    const plan = await shrinkForgottenMembersWorkflow.plan(contextOf(young.management), { node: GONE });
    expect(plan.warnings.join('\n')).toContain(
      `Started \`${R3}\` 12 s ago: for about a minute after a start RabbitMQ may list a quorum queue without its member on \`${GONE}\``,
    );
    // The fixture's nodes have run for about two minutes: nothing to say.
    const settled = await shrinkForgottenMembersWorkflow.plan(
      contextOf(fakeManagement(kollaQueues(withGone)).management),
      {
        node: GONE,
      },
    );
    expect(settled.warnings.join('\n')).not.toMatch(/ago: for about a minute/);
  });

  it('lists again once every node has run a minute, and removes the member from a queue the plan could not see', async () => {
    const queues = kollaQueues(withGone);
    const hidden = queues.find((q) => q.type === 'quorum') as Queue;
    const members = hidden.members;
    // RabbitMQ 4.0.5 after an offline forget and a restart: the queue is listed without its member on the node.
    hidden.members = members?.filter((m) => m !== GONE);
    const uptime = { [R3]: 12_400 };
    const { management, sent } = fakeManagement(queues, { uptime });
    const context = contextOf(management);
    const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
    expect(plan.summary).toMatch(/from 6 quorum queue\(s\)/);
    expect(plan.warnings.join('\n')).toMatch(
      /the run's last step lists the queues again once every node has run a minute/,
    );
    const last = plan.actions.at(-1) as PlannedAction;
    expect(last.key).toBe('stragglers');
    expect(plan.guards.join('\n')).toMatch(/the last step waits .* until every node has run a minute/);
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      for (const action of plan.actions.slice(0, -1))
        await held(shrinkForgottenMembersWorkflow.execute(context, action, { node: GONE }));
      hidden.members = members;
      const deletesBefore = sent.filter((s) => s.method === 'DELETE').length;
      const step = shrinkForgottenMembersWorkflow.execute(context, last, { node: GONE });
      await vi.advanceTimersByTimeAsync(30_000);
      // Not yet: node 3 has not run a minute, and the step has not listed the queues again.
      expect(sent.filter((s) => s.method === 'DELETE')).toHaveLength(deletesBefore);
      uptime[R3] = 61_000;
      expect(await held(step)).toMatch(
        new RegExp(
          `^1 other quorum queue\\(s\\) listed a member on \`${GONE}\` by then \\(after waiting 3\\d s for every node to have run a minute\\), not when the run was planned: removed it from \`${hidden.name}\`$`,
        ),
      );
      expect(sent.filter((s) => s.method === 'DELETE')).toHaveLength(deletesBefore + 1);
      expect(hidden.members).not.toContain(GONE);
    } finally {
      vi.useRealTimers();
    }
    const verified = await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE });
    expect(verified).toEqual({ ok: true, detail: 'no queue of the run has a member on the node any more' });
  });

  it('has no last step when the plan already leaves queues for another run', async () => {
    const { management } = fakeManagement(kollaQueues(withGone));
    const capped = await shrinkForgottenMembersWorkflow.plan(contextOf(management, { maxItemsPerRun: 3 }), {
      node: GONE,
    });
    expect(capped.leftOut).toBe(4);
    expect(capped.actions.map((a) => a.key)).not.toContain('stragglers');
    const all = await shrinkForgottenMembersWorkflow.plan(contextOf(management), { node: GONE });
    expect(all.actions.map((a) => a.key)).toContain('stragglers');
  });

  it('says in its verify that a queue the plan could not see lists a member on the node by now', async () => {
    const queues = kollaQueues(withGone);
    const hidden = queues.find((q) => q.type === 'quorum') as Queue;
    const members = hidden.members;
    delete hidden.members;
    const { management } = fakeManagement(queues);
    const context = contextOf(management);
    const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      for (const action of plan.actions)
        await held(shrinkForgottenMembersWorkflow.execute(context, action, { node: GONE }));
    } finally {
      vi.useRealTimers();
    }
    const alone = await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE });
    expect(alone).toEqual({ ok: true, detail: 'no queue of the run has a member on the node any more' });
    hidden.members = members;
    const verified = await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE });
    expect(verified.ok).toBe(true);
    expect(verified.detail).toMatch(/; 1 other quorum queue\(s\) list one there now .* the alert stays/);
  });

  it('asks again for a queue listed without members (no leader yet), and never takes it for done', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const one = oneQuorumQueue();
      const { management, sent } = fakeManagement(one);
      const context = contextOf(management);
      const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
      const hidden = hideMembers(management, 3);
      const done = shrinkForgottenMembersWorkflow.execute(context, plan.actions[0] as never, { node: GONE });
      await vi.advanceTimersByTimeAsync(3_000);
      expect(await held(done)).toBe(`removed 1 member(s) on \`${GONE}\``);
      expect(sent.filter((s) => s.method === 'DELETE')).toHaveLength(1);

      hidden.times = Number.POSITIVE_INFINITY;
      const verified = shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE });
      await vi.advanceTimersByTimeAsync(CHANGE_NOT_PERMITTED_RETRY_MS + 1_000);
      expect(await verified).toMatchObject({ ok: false, detail: expect.stringMatching(/members are not listed/) });
    } finally {
      vi.useRealTimers();
    }
  });

  it('asks again while a just-elected leader refuses membership changes, and gives up after a while', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const one = oneQuorumQueue();
      const { management, sent } = fakeManagement(one, { notPermittedTimes: 3 });
      const context = contextOf(management);
      const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
      const done = shrinkForgottenMembersWorkflow.execute(context, plan.actions[0] as never, { node: GONE });
      await vi.advanceTimersByTimeAsync(2_000);
      expect(await held(done)).toBe(`removed 1 member(s) on \`${GONE}\``);
      expect(sent.filter((s) => s.method === 'DELETE')).toHaveLength(4);

      const stuck = fakeManagement(oneQuorumQueue(), {
        notPermittedTimes: 1_000,
      });
      const failed = shrinkForgottenMembersWorkflow
        .execute(contextOf(stuck.management), plan.actions[0] as never, { node: GONE })
        .catch((error: Error) => error);
      await vi.advanceTimersByTimeAsync(CHANGE_NOT_PERMITTED_RETRY_MS + 1_000);
      expect(String(await failed)).toMatch(/cluster_change_not_permitted/);
      const asked = stuck.sent.filter((s) => s.method === 'DELETE').length;
      expect(asked).toBeGreaterThan(10);
      expect(asked).toBeLessThan(60);
    } finally {
      vi.useRealTimers();
    }
  });

  it('before RabbitMQ 4.0, removes them all with one rabbitmq-queues shrink through node control', async () => {
    const queues = kollaQueues(withGone);
    const { management, sent } = fakeManagement(queues, { version: '3.13.7' });
    const shrunk: string[][] = [];
    const nodeControl = nodeControlFake('shrink-forgotten-members', {
      shrinkMembers: async (via: string, lost: string) => {
        shrunk.push([via, lost]);
        for (const q of queues) q.members = q.members?.filter((m) => m !== lost);
        return 'done';
      },
    });
    const withoutControl = contextOf(management);
    await expect(shrinkForgottenMembersWorkflow.plan(withoutControl, { node: GONE })).rejects.toThrow(
      `run \`rabbitmq-queues shrink ${GONE}\` on a running node by hand`,
    );
    const context = workflowContext(management, { nodeControl, remediation: { maxItemsPerRun: 2 } });
    const plan = await shrinkForgottenMembersWorkflow.plan(context, { node: GONE });
    expect(plan.summary).toMatch(/from 7 quorum queue\(s\)/);
    expect(plan.warnings?.join(' ')).toMatch(/RabbitMQ 3\.13 has no HTTP endpoint/);
    expect(plan.actions).toHaveLength(1);
    const [step] = plan.actions as [PlannedAction];
    expect(step.label).toMatch(/rabbitmq-queues shrink/);
    expect(await shrinkForgottenMembersWorkflow.guard(context, step as never, { node: GONE })).toBeUndefined();
    expect(await shrinkForgottenMembersWorkflow.execute(context, step as never, { node: GONE })).toMatch(
      /7 of 7 member\(s\) on `rabbit@old-host` gone/,
    );
    expect(shrunk).toEqual([[step.data.via, GONE]]);
    expect(sent.filter((r) => r.path.includes('/replicas/'))).toEqual([]);
    expect(await shrinkForgottenMembersWorkflow.verify(context, plan.actions, { node: GONE })).toMatchObject({
      ok: true,
    });
  });

  it('refuses, and its guard aborts, for a node that is in the cluster', async () => {
    const { management } = fakeManagement(kollaQueues(withGone));
    const context = contextOf(management);
    await expect(shrinkForgottenMembersWorkflow.plan(context, { node: R3 })).rejects.toThrow(/is in cluster local/);
    const guard = await shrinkForgottenMembersWorkflow.guard(
      context,
      { key: 'batch-1', label: '', data: { node: R3, queues: [] } },
      { node: R3 },
    );
    expect(guard).toEqual({ reason: `\`${R3}\` is in the cluster again`, abort: true });
  });
});

describe('rebalance-quorum-leaders', () => {
  it('refuses when the leaders are spread already, and plans one rebalance when piled up', async () => {
    const spread = fakeManagement(kollaQueues((q) => q));
    await expect(rebalanceQuorumLeadersWorkflow.plan(contextOf(spread.management), {})).rejects.toThrow(
      /spread within the imbalance threshold/,
    );
    const piled = kollaQueues((q) => ({ ...q, leader: R1, node: R1 }));
    const many = Array.from({ length: 30 }, (_, i) => ({ ...(piled[1] as Queue), name: `led.${i}` }));
    const { management, sent } = fakeManagement([...piled, ...many]);
    const context = contextOf(management);
    const plan = await rebalanceQuorumLeadersWorkflow.plan(context, {});
    expect(plan.summary).toMatch(/^move queue leaders off `rabbit1@localhost`/);
    expect(plan.actions.map((a) => a.key)).toEqual(['rebalance']);
    expect(await rebalanceQuorumLeadersWorkflow.execute(context, plan.actions[0] as never, {})).toMatch(
      /^rebalance started; `rabbit1@localhost` leads \d+ now, down from \d+$/,
    );
    expect(sent).toEqual([{ method: 'POST', path: '/api/rebalance/queues', data: {} }]);
    expect((await rebalanceQuorumLeadersWorkflow.verify(context, plan.actions, {})).ok).toBe(true);
  });

  it('asks again while the broker moved nothing: its answer never says whether it rebalanced', async () => {
    vi.useFakeTimers();
    try {
      const piled = kollaQueues((q) => ({ ...q, leader: R1, node: R1 }));
      const many = Array.from({ length: 30 }, (_, i) => ({ ...(piled[1] as Queue), name: `led.${i}` }));
      const { management, sent } = fakeManagement([...piled, ...many], { rebalanceMovesOn: 2 });
      const context = contextOf(management);
      const plan = await rebalanceQuorumLeadersWorkflow.plan(context, {});
      let result: string | undefined;
      const done = rebalanceQuorumLeadersWorkflow.execute(context, plan.actions[0] as never, {}).then((r) => {
        result = r;
      });
      while (result === undefined) await vi.advanceTimersByTimeAsync(1_000);
      await done;
      expect(result).toMatch(/^rebalance started \(asked 2 times\); `rabbit1@localhost` leads \d+ now/);
      expect(sent.filter((r) => r.path === '/api/rebalance/queues')).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
