import { describe, expect, it } from 'vitest';
import { NodeControlError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { forceBootWorkflow } from '../../workflows/force-boot.js';
import { nodeControlFake, workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';
const URLS: Record<string, string> = { 'http://n1': R1, 'http://n2': R2, 'http://n3': R3 };

type AppState = 'running' | 'stopped' | 'vm-down';

/**
 * Three nodes after a whole-cluster stop: a node's management URL answers only while its app runs; force_boot marks
 * a stopped node, and start_app boots a node only when it was marked or the last one to stop runs again.
 */
function fakeCluster(apps: Record<string, AppState>, lastStopped = R3) {
  const calls: string[] = [];
  const forced = new Set<string>();
  const management = {
    baseUrls: Object.keys(URLS),
    getFrom: async (base: string, path: string, schema: { parse(v: unknown): unknown }) => {
      const node = URLS[base] as string;
      if (apps[node] !== 'running') throw new Error(`${path}: ECONNREFUSED`);
      if (path === '/api/overview') return schema.parse({ node });
      return schema.parse(Object.entries(apps).map(([name, app]) => ({ name, running: app === 'running' })));
    },
  } as unknown as ManagementClient;
  const nodeControl = nodeControlFake('force-boot', {
    rabbitRunning: async (node) => {
      if (apps[node] === 'vm-down') throw new NodeControlError(`environment on ${node} failed (exit 69): nodedown`);
      return apps[node] === 'running';
    },
    run: async (node, action) => {
      calls.push(`${action} ${node}`);
      if (action === 'force_boot') forced.add(node);
      if (action === 'start_app') {
        if (!forced.has(node) && apps[lastStopped] !== 'running') {
          throw new NodeControlError(`start_app on ${node} failed (exit 75): timeout waiting for tables`);
        }
        apps[node] = 'running';
      }
      return '';
    },
  });
  return { context: workflowContext(management, { nodeControl }), calls, apps };
}

const args = { node: R2, lost: R3 };

describe('force-boot arguments', () => {
  it('takes the survivor and --lost, both node names', () => {
    const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
      parseWorkflowArgs(forceBootWorkflow, { positionals, flags });
    expect(parse([R2], { lost: R3 }).data).toEqual(args);
    expect(parse([R2]).error?.issues[0]?.message).toBe('name the lost node with --lost, e.g. --lost rabbit@host-3');
    expect(parse([], { lost: R3 }).error?.issues[0]?.message).toMatch(/^name the survivor to boot/);
    expect(parse([R2], { lost: 'rabbit3; reboot' }).error?.issues[0]?.message).toBe('a node is named like rabbit@host');
    expect(forceBootWorkflow.risk).toBe('critical');
  });
});

describe('force-boot', () => {
  it('force-boots the survivor, then starts it without the lost node, and verifies it runs', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'vm-down' });
    const plan = await forceBootWorkflow.plan(cluster.context, args);
    expect(plan.actions.map((a) => a.key)).toEqual([`force:${R2}`, `start:${R2}`]);
    expect(plan.warnings[0]).toMatch(/^`rabbit2@localhost` boots with the cluster state it had when it stopped/);
    for (const action of plan.actions) {
      expect(await forceBootWorkflow.guard(cluster.context, action, args)).toBeUndefined();
      await forceBootWorkflow.execute(cluster.context, action, args);
    }
    expect(cluster.calls).toEqual([`force_boot ${R2}`, `start_app ${R2}`]);
    expect(await forceBootWorkflow.verify(cluster.context, plan.actions, args)).toEqual({
      ok: true,
      detail: 'the rabbit app runs on `rabbit2@localhost`',
    });
  });

  it('refuses while any node runs: the survivor can start normally and lose nothing', async () => {
    const cluster = fakeCluster({ [R1]: 'running', [R2]: 'stopped', [R3]: 'vm-down' });
    await expect(forceBootWorkflow.plan(cluster.context, args)).rejects.toThrow(
      'Not force-booting `rabbit2@localhost`: `rabbit1@localhost` runs: `rabbit2@localhost` can start normally and sync from it (start-cluster), without losing anything.',
    );
  });

  it('refuses when the lost node is not lost, or the survivor cannot be reached, or it is the same node', async () => {
    const alive = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'running' });
    await expect(forceBootWorkflow.plan(alive.context, args)).rejects.toThrow(/`rabbit3@localhost` is running/);
    const down = fakeCluster({ [R1]: 'stopped', [R2]: 'vm-down', [R3]: 'vm-down' });
    await expect(forceBootWorkflow.plan(down.context, args)).rejects.toThrow(
      /node control cannot reach `rabbit2@localhost` .*start its VM/,
    );
    const same = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'vm-down' });
    await expect(forceBootWorkflow.plan(same.context, { node: R2, lost: R2 })).rejects.toThrow(/the same node/);
  });

  it('stops before forcing when the lost node came back meanwhile, and skips a start already done', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'vm-down' });
    const [force, start] = (await forceBootWorkflow.plan(cluster.context, args)).actions;
    if (!force || !start) throw new Error('two steps planned');
    cluster.apps[R3] = 'running';
    expect(await forceBootWorkflow.guard(cluster.context, force, args)).toEqual({
      reason: '`rabbit3@localhost` is running',
      abort: true,
    });
    cluster.apps[R3] = 'vm-down';
    cluster.apps[R2] = 'running';
    expect(await forceBootWorkflow.guard(cluster.context, start, args)).toEqual({
      reason: 'the rabbit app already runs on `rabbit2@localhost`',
      abort: false,
    });
  });
});
