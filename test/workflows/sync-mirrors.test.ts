import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { nodesSchema } from '../../src/management/schemas.js';
import { type PlannedAction, parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { syncMirrorsWorkflow } from '../../workflows/sync-mirrors.js';
import { readFixture } from '../support/snapshot-fixtures.js';
import { workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';

type Queue = Record<string, unknown> & { name: string; vhost: string };

/** Captured from a real 3.10 cluster: the cheap listing (stale mirror fields) and each queue read with stats. */
const listing = (readFixture('unsynced-mirror-queues-disable-stats.json') as { items: Queue[] }).items;
const withStats = (readFixture('unsynced-mirror-queues.json') as { items: Queue[] }).items;

/** The captured healthy nodes, each listing the `rabbit` application at `version` as /api/nodes does. */
function nodesAt(version: string | undefined): unknown {
  const nodes = readFixture('healthy-nodes.json') as Record<string, unknown>[];
  return version ? nodes.map((n) => ({ ...n, applications: [{ name: 'rabbit', version }] })) : nodes;
}

const queuePath = (q: { vhost: string; name: string }) =>
  `/api/queues/${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}`;

/**
 * A management API answering from `queues` (by per-queue path, read with stats) and the cheap listing; a POST of
 * the sync action marks every mirror of the queue synchronised unless `syncs` is false. Requests are recorded.
 */
function fakeManagement(
  options: { queues?: Queue[]; listing?: Queue[]; syncs?: boolean; postStatus?: number; rabbitVersion?: string } = {},
) {
  const queues = new Map((options.queues ?? withStats).map((q) => [queuePath(q), structuredClone(q)]));
  const sent: { method: string; path: string; data?: unknown; headers?: unknown }[] = [];
  const answer = (path: string): unknown => {
    if (path === '/api/queues') return options.listing ?? listing;
    if (path === '/api/consumers' || path === '/api/connections' || path === '/api/policies') return [];
    if (path === '/api/nodes') return nodesAt(options.rabbitVersion);
    const queue = queues.get(path);
    if (queue) return queue;
    throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: ['http://n1'],
    get: async (path: string, schema: { parse(v: unknown): unknown }) => schema.parse(answer(path)),
    getFrom: async (_base: string, _path: string, schema: { parse(v: unknown): unknown }) => schema.parse({ node: R1 }),
    healthCheckOf: async () => ({ ok: true }),
    nodes: async () => nodesSchema.parse(answer('/api/nodes')),
    send: async (method: string, path: string, opts: { data?: unknown; headers?: unknown } = {}) => {
      sent.push({ method, path, data: opts.data, headers: opts.headers });
      const queue = queues.get(path.replace(/\/actions$/, ''));
      if (!queue) return { status: 404 };
      if (options.syncs !== false) queue.synchronised_slave_nodes = queue.slave_nodes;
      return { status: options.postStatus ?? 204 };
    },
  };
  return { management: management as unknown as ManagementClient, sent, queues };
}

const contextOf = (management: ManagementClient, remediation: Record<string, unknown> = {}) =>
  workflowContext(management, { remediation });

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parseWorkflowArgs(syncMirrorsWorkflow, { positionals, flags });

function action(name: string, messages = 25): PlannedAction {
  return {
    key: `//${name}`,
    label: `sync ${name}`,
    data: { vhost: '/', name, node: R1, messages, synchronised: [R2], unsynchronised: [R3] },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('sync-mirrors arguments', () => {
  it('takes an optional queue name glob and no flags', () => {
    expect(parse([]).data).toEqual({});
    expect(parse(['mirror.*']).data).toEqual({ pattern: 'mirror.*' });
    expect(parse(['a', 'b']).error?.issues[0]?.message).toMatch(/at most one queue name pattern/);
    expect(parse([], { force: true }).error?.issues[0]?.message).toBe('sync-mirrors takes no flags');
    expect(syncMirrorsWorkflow.argsForAlert?.({} as never)).toEqual({});
  });
});

describe('sync-mirrors plan', () => {
  it('plans one step per unsynchronised queue, the one whose master alone holds its messages first', async () => {
    const { management, sent } = fakeManagement();
    const plan = await syncMirrorsWorkflow.plan(contextOf(management), {});
    expect(plan.actions.map((a) => a.key)).toEqual(['//billing.invoices', '//mirror.orders']);
    expect(plan.actions[0]?.data).toEqual({
      vhost: '/',
      name: 'billing.invoices',
      node: R1,
      messages: 12,
      synchronised: [],
      unsynchronised: [R3],
    });
    expect(plan.actions[1]?.label).toBe(
      'sync `mirror.orders`: 25 message(s) to `rabbit3@localhost` (the queue is blocked while it syncs)',
    );
    expect(plan.summary).toBe(
      'sync 2 mirrored queue(s) holding 37 message(s), one at a time; each queue is BLOCKED while it syncs',
    );
    // The approver is told, loudly and with the numbers, that a sync blocks the queue.
    expect(plan.warnings[0]).toBe(
      'A sync BLOCKS its queue until every message is copied to the new mirrors: publishers and consumers of that ' +
        'queue stall meanwhile. 37 message(s) to copy in all; the largest queue is `mirror.orders` with 25.',
    );
    expect(plan.warnings[1]).toContain('one at a time');
    expect(plan.guards).toEqual([
      'the queue still exists and one of its mirrors is still not synchronised (else it is skipped)',
    ]);
    expect(plan.leftOut).toBeUndefined();
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(sent).toEqual([]);
  });

  it('keeps to remediation.maxItemsPerRun and says how many were left out', async () => {
    const { management } = fakeManagement();
    const plan = await syncMirrorsWorkflow.plan(contextOf(management, { maxItemsPerRun: 1 }), {});
    expect(plan.actions.map((a) => a.key)).toEqual(['//billing.invoices']);
    expect(plan.leftOut).toBe(1);
  });

  it('keeps to the queues the glob names', async () => {
    const { management } = fakeManagement();
    const plan = await syncMirrorsWorkflow.plan(contextOf(management), { pattern: 'mirror.*' });
    expect(plan.actions.map((a) => a.key)).toEqual(['//mirror.orders']);
  });

  it('refuses when no mirrored queue with messages has an unsynchronised mirror', async () => {
    const synced = withStats.map((q) => ({ ...q, synchronised_slave_nodes: q.slave_nodes }));
    const { management } = fakeManagement({ queues: synced });
    await expect(syncMirrorsWorkflow.plan(contextOf(management), {})).rejects.toThrow(
      'No classic mirrored queue on `local` has an unsynchronised mirror and messages: nothing to sync.',
    );
    const { management: other } = fakeManagement();
    await expect(syncMirrorsWorkflow.plan(contextOf(other), { pattern: 'nova.*' })).rejects.toThrow(
      /matching `nova\.\*`/,
    );
  });

  it('refuses on RabbitMQ 4.0, which has no mirrors, saying what replaces them', async () => {
    const { management, sent } = fakeManagement({ rabbitVersion: '4.0.5' });
    const refused = syncMirrorsWorkflow.plan(contextOf(management), {});
    await expect(refused).rejects.toBeInstanceOf(WorkflowRefusedError);
    await expect(refused).rejects.toThrow(
      /^sync-mirrors is not applicable on RabbitMQ 4\.0: there are no mirrors to sync\. Classic queue mirroring was removed in RabbitMQ 4\.0 \(this cluster runs 4\.0\.5\).*quorum queues.*`rabbit_quorum_queue = true`/,
    );
    expect(sent).toEqual([]);
  });

  it('plans as before on 3.13, which still mirrors', async () => {
    const { management } = fakeManagement({ rabbitVersion: '3.13.7' });
    const plan = await syncMirrorsWorkflow.plan(contextOf(management), {});
    expect(plan.actions.length).toBeGreaterThan(0);
  });

  it('refuses when the queues cannot be listed', async () => {
    const { management } = fakeManagement();
    const failing = {
      ...management,
      get: async (path: string) => {
        throw new ManagementApiError(path, 500, `HTTP 500 from ${path}`);
      },
    } as unknown as ManagementClient;
    const refused = syncMirrorsWorkflow.plan(contextOf(failing), {});
    await expect(refused).rejects.toBeInstanceOf(WorkflowRefusedError);
    await expect(refused).rejects.toThrow(/Could not list the queues: HTTP 500/);
  });
});

describe('sync-mirrors guard', () => {
  it('passes while a mirror is still unsynchronised', async () => {
    const { management } = fakeManagement();
    expect(await syncMirrorsWorkflow.guard(contextOf(management), action('mirror.orders'), {})).toBeUndefined();
  });

  it('skips a queue that is gone or synchronised meanwhile', async () => {
    const gone = fakeManagement({ queues: [] });
    expect(await syncMirrorsWorkflow.guard(contextOf(gone.management), action('mirror.orders'), {})).toEqual({
      reason: 'already gone',
      abort: false,
    });
    const synced = fakeManagement({
      queues: withStats.map((q) => ({ ...q, synchronised_slave_nodes: q.slave_nodes })),
    });
    expect(await syncMirrorsWorkflow.guard(contextOf(synced.management), action('mirror.orders'), {})).toEqual({
      reason: 'already synchronised',
      abort: false,
    });
  });
});

describe('sync-mirrors execute', () => {
  it('posts the sync action for the one queue and waits until its mirrors are synchronised', async () => {
    const { management, sent } = fakeManagement();
    const result = await syncMirrorsWorkflow.execute(contextOf(management), action('mirror.orders'), {});
    expect(sent).toEqual([
      {
        method: 'POST',
        path: '/api/queues/%2F/mirror.orders/actions',
        data: { action: 'sync' },
        // The broker answers 406 to `accept: application/json` here.
        headers: { accept: '*/*' },
      },
    ]);
    expect(result).toBe('synchronised 25 message(s) to `rabbit3@localhost` in 1s');
  });

  it('names the planned message count when the fresh read has no message stats yet', async () => {
    // A queue's own GET leaves `messages` out until its first stats emission, seconds after it is declared.
    const fresh = withStats.map(({ messages: _, ...q }) => q as Queue);
    const { management } = fakeManagement({ queues: fresh });
    const context = contextOf(management);
    expect(await syncMirrorsWorkflow.guard(context, action('mirror.orders'), {})).toBeUndefined();
    expect(await syncMirrorsWorkflow.execute(context, action('mirror.orders'), {})).toBe(
      'synchronised 25 message(s) to `rabbit3@localhost` in 1s',
    );
  });

  it('is idempotent: a second run finds the queue synchronised and posts nothing', async () => {
    const { management, sent } = fakeManagement();
    const context = contextOf(management);
    await syncMirrorsWorkflow.execute(context, action('mirror.orders'), {});
    expect(await syncMirrorsWorkflow.execute(context, action('mirror.orders'), {})).toBe('already synchronised');
    expect(sent).toHaveLength(1);
  });

  it('says "already gone" for a queue deleted before or during the request', async () => {
    const gone = fakeManagement({ queues: [] });
    expect(await syncMirrorsWorkflow.execute(contextOf(gone.management), action('mirror.orders'), {})).toBe(
      'already gone',
    );
    expect(gone.sent).toEqual([]);
    const raced = fakeManagement({ postStatus: 404, syncs: false });
    expect(await syncMirrorsWorkflow.execute(contextOf(raced.management), action('mirror.orders'), {})).toBe(
      'already gone',
    );
  });

  it('reports a sync that is still running after the wait instead of failing the step', async () => {
    vi.useFakeTimers();
    const { management } = fakeManagement({ syncs: false });
    const pending = syncMirrorsWorkflow.execute(contextOf(management), action('mirror.orders'), {});
    await vi.advanceTimersByTimeAsync(31_000);
    expect(await pending).toBe(
      'sync of 25 message(s) to `rabbit3@localhost` started; still running after 30s (the verification waits again)',
    );
  });
});

describe('sync-mirrors verify', () => {
  it('succeeds when every mirror of every synced queue is synchronised, counting deleted queues apart', async () => {
    const { management, queues } = fakeManagement();
    for (const q of queues.values()) q.synchronised_slave_nodes = q.slave_nodes;
    const verification = await syncMirrorsWorkflow.verify(
      contextOf(management),
      [action('mirror.orders'), action('billing.invoices'), action('gone.queue')],
      {},
    );
    expect(verification).toEqual({
      ok: true,
      detail: 'every mirror of 2 queue(s) is synchronised; deleted meanwhile: `gone.queue`',
    });
  });

  it('fails naming the queues and mirrors still behind after about 30 s', async () => {
    vi.useFakeTimers();
    const { management } = fakeManagement();
    const pending = syncMirrorsWorkflow.verify(contextOf(management), [action('mirror.orders')], {});
    await vi.advanceTimersByTimeAsync(31_000);
    expect(await pending).toEqual({
      ok: false,
      detail: 'still not synchronised after 30s: `mirror.orders` (`rabbit3@localhost`)',
    });
  });
});
