import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { AlertState } from '../../src/health/alert-state.js';
import { heartbeatsCheck } from '../../src/health/checks/heartbeats.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { type PlannedAction, parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { closeHeartbeatlessConnectionsWorkflow as workflow } from '../../workflows/close-heartbeatless-connections.js';
import { checkContext, fixtureConnections, readFixture, snapshotOf } from '../support/snapshot-fixtures.js';
import { workflowArgs } from '../support/workflow-args.js';
import { workflowContext } from '../support/workflow-context.js';

type Connection = Record<string, unknown> & { name: string; connected_at: number };

/**
 * Captured from a real 3.10 cluster: two cinder-volume processes and one neutron-openvswitch-agent connected with
 * `?heartbeat=0`, the rest negotiated 60 s.
 */
const captured = () => (readFixture('heartbeat-connections.json') as { items: Connection[] }).items;
const CINDER = ['127.0.0.1:59446 -> 127.0.0.1:30516', '127.0.0.1:59978 -> 127.0.0.1:14702'];
const NEUTRON = '127.0.0.1:55630 -> 127.0.0.1:22613';
const connectionPath = (name: string) => `/api/connections/${encodeURIComponent(name)}`;

/** A management API answering from `connections` (the listing and each by name); DELETE closes one. */
function fakeManagement(connections: Connection[] = captured()) {
  const open = new Map(connections.map((c) => [connectionPath(c.name), structuredClone(c)]));
  const sent: { method: string; path: string; headers?: Record<string, string> }[] = [];
  const management = {
    cluster: 'local',
    get: async (path: string, schema: { parse(v: unknown): unknown }) => {
      if (path === '/api/connections') return schema.parse([...open.values()]);
      const connection = open.get(path);
      if (connection) return schema.parse(connection);
      throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
    },
    send: async (method: string, path: string, opts: { headers?: Record<string, string> } = {}) => {
      sent.push({ method, path, headers: opts.headers });
      return { status: open.delete(path) ? 204 : 404 };
    },
  };
  return { management: management as unknown as ManagementClient, sent, open };
}

const contextOf = (management: ManagementClient, remediation: Record<string, unknown> = {}) =>
  workflowContext(management, { remediation });

const argsOf = (text: string[]) => workflowArgs(workflow, text.join(' '));

function alertOf(connections: Connection[], findingCount?: number): AlertState {
  const findings = heartbeatsCheck.evaluate(
    snapshotOf({
      connections: fixtureConnections('heartbeat-connections.json').filter((c) =>
        connections.some((k) => k.name === c.name),
      ),
    }),
    checkContext(),
  );
  return {
    id: 'heartbeats@local',
    cluster: 'local',
    check: 'heartbeats',
    status: 'firing',
    severity: 'info',
    findings,
    findingCount: findingCount ?? findings.length,
    firedAt: 0,
    updatedAt: 0,
    remindedAt: 0,
    channel: 'C1',
    replies: [],
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('close-heartbeatless-connections', () => {
  it('plans the connections with heartbeats off, by service, with the blast radius', async () => {
    const { management } = fakeManagement();
    const plan = await workflow.plan(contextOf(management), argsOf([]));
    expect(plan.actions.map((a) => a.key)).toEqual([...CINDER, NEUTRON]);
    expect(plan.summary).toBe(
      'close 3 connection(s) without working heartbeats, holding 0 channel(s), of 2 service(s): `cinder-volume`, `neutron-openvswitch-agent`',
    );
    expect(plan.actions[0]?.label).toMatch(
      /^close `cinder-volume` on `127\.0\.0\.1`, pid 777, .*: heartbeats disabled, 0 channel\(s\)$/,
    );
    expect(plan.actions[0]?.data).toMatchObject({ name: CINDER[0], service: 'cinder-volume', timeout: 0 });
    expect(plan.warnings.join(' ')).toMatch(/stopgap.*heartbeat_timeout_threshold/);
    expect(plan.leftOut).toBeUndefined();
  });

  it('filters by service glob, applies the check threshold to long timeouts, and caps a run', async () => {
    const { management } = fakeManagement();
    const plan = await workflow.plan(contextOf(management), argsOf(['cinder-*']));
    expect(plan.actions.map((a) => a.key)).toEqual(CINDER);

    const long = captured().map((c) => (c.timeout === 60 ? { ...c, timeout: 3600 } : c));
    const all = await workflow.plan(contextOf(fakeManagement(long).management), argsOf(['nova-compute']));
    expect(all.actions).toHaveLength(1);
    expect(all.actions[0]?.label).toMatch(/heartbeat 3,600 s/);

    const capped = await workflow.plan(contextOf(management, { maxItemsPerRun: 2 }), argsOf([]));
    expect(capped.actions.map((a) => a.key)).toEqual(CINDER);
    expect(capped.leftOut).toBe(1);

    await expect(workflow.plan(contextOf(management), argsOf(['nova-*']))).rejects.toThrow(WorkflowRefusedError);
    expect(parseWorkflowArgs(workflow, { positionals: ['a', 'b'], flags: {} }).success).toBe(false);
    expect(parseWorkflowArgs(workflow, { positionals: [], flags: { force: true } }).success).toBe(false);
  });

  it('scopes the alert Fix… to its one service, and to every service otherwise', () => {
    const connections = captured();
    expect(workflow.argsForAlert?.(alertOf(connections.filter((c) => CINDER.includes(c.name))))).toEqual({
      service: 'cinder-volume',
    });
    expect(workflow.argsForAlert?.(alertOf(connections))).toEqual({});
    expect(
      workflow.argsForAlert?.(
        alertOf(
          connections.filter((c) => CINDER.includes(c.name)),
          2,
        ),
      ),
    ).toEqual({});
  });

  it('guards against a closed, replaced or now-healthy connection, and closes with an X-Reason that says what to change', async () => {
    const { management, sent, open } = fakeManagement();
    const context = contextOf(management);
    const args = argsOf([]);
    const plan = await workflow.plan(context, args);
    const [first, second, third] = plan.actions as [PlannedAction, PlannedAction, PlannedAction];

    expect(await workflow.guard(context, first, args)).toBeUndefined();
    expect(await workflow.execute(context, first, args)).toBe('closed');
    expect(sent[0]).toEqual({
      method: 'DELETE',
      path: connectionPath(CINDER[0] as string),
      headers: {
        'X-Reason':
          'closed by warren run r-0000abcd for U0REQ: heartbeats disabled; set heartbeat_timeout_threshold (oslo, [oslo_messaging_rabbit]) above 0 and restart the service',
      },
    });
    expect(await workflow.guard(context, first, args)).toEqual({ reason: 'already closed', abort: false });
    expect(await workflow.execute(context, first, args)).toBe('already closed');

    (open.get(connectionPath(CINDER[1] as string)) as Connection).connected_at += 1;
    expect(await workflow.guard(context, second, args)).toEqual({
      reason: 'another connection holds that address now',
      abort: false,
    });
    (open.get(connectionPath(NEUTRON)) as Connection).timeout = 30;
    expect(await workflow.guard(context, third, args)).toEqual({
      reason: 'its heartbeat is 30 s now, within 600 s',
      abort: false,
    });
  });

  it('verifies they are gone, and says plainly when the service came back without heartbeats', async () => {
    const { management, open } = fakeManagement();
    const context = contextOf(management);
    const args = argsOf(['cinder-volume']);
    const plan = await workflow.plan(context, args);
    for (const action of plan.actions) await workflow.execute(context, action, args);

    const quiet = await workflow.verify(context, plan.actions, args);
    expect(quiet.ok).toBe(true);
    expect(quiet.detail).toMatch(/^2 connection\(s\) closed; none has come back without heartbeats yet/);

    // The same processes reconnect with the same config: new connections, newer than anything the plan saw.
    const newest = Math.max(...captured().map((c) => c.connected_at));
    for (const [i, old] of captured()
      .filter((c) => CINDER.includes(c.name))
      .entries()) {
      const name = `127.0.0.1:6000${i} -> 127.0.0.1:30516`;
      open.set(connectionPath(name), { ...old, name, connected_at: newest + 1_000 + i });
    }
    const back = await workflow.verify(context, plan.actions, args);
    expect(back.ok).toBe(true);
    expect(back.detail).toMatch(
      /^2 connection\(s\) closed, but 2 new connection\(s\) of `cinder-volume` came back without heartbeats\. .*the real fix is the client's config.*the alert will fire again/,
    );
  });

  it('fails verification when a closed connection is still listed after the wait', async () => {
    const { management } = fakeManagement();
    const context = contextOf(management);
    const args = argsOf(['neutron-*']);
    const plan = await workflow.plan(context, args);
    vi.useFakeTimers();
    const verification = workflow.verify(context, plan.actions, args);
    await vi.advanceTimersByTimeAsync(11_000);
    expect(await verification).toEqual({ ok: false, detail: `still open: \`${NEUTRON}\`` });
  });

  it('is the heartbeats check Fix…', () => {
    expect(heartbeatsCheck.workflow).toBe(workflow.name);
    expect(workflow.risk).toBe('high');
  });
});
