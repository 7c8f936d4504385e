import { afterEach, describe, expect, it, vi } from 'vitest';
import { NodeControlError } from '../../src/errors.js';
import type { AlertState } from '../../src/health/alert-state.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { startClusterWorkflow } from '../../workflows/start-cluster.js';
import { nodeControlFake, workflowContext } from '../support/workflow-context.js';

const R1 = 'rabbit1@localhost';
const R2 = 'rabbit2@localhost';
const R3 = 'rabbit3@localhost';

/**
 * `booting`: waits for `lastStopped`, and runs once it does. `hung`: boots until its VM is restarted. `lost`: its VM
 * is down and its service does not start (its disk is gone).
 */
type AppState = 'running' | 'stopped' | 'vm-down' | 'booting' | 'hung' | 'lost';

/**
 * Three nodes whose apps node control starts; the management API answers (from any running node) only while some
 * node runs. A node other than `lastStopped` started before it waits in its boot and fails, as RabbitMQ does. With
 * `service`, node control starts and ends VMs too (a started VM boots its app).
 */
function fakeCluster(apps: Record<string, AppState>, lastStopped = R3, service = false) {
  const calls: string[] = [];
  const listing = () =>
    Object.entries(apps).map(([name, app]) => ({ name, running: app === 'running', partitions: [] }));
  // Each node's management URL answers while its app runs, naming its node and listing the cluster.
  const urls: Record<string, string> = { 'http://n1': R1, 'http://n2': R2, 'http://n3': R3 };
  const management = {
    baseUrls: Object.keys(urls),
    getFrom: async (base: string, path: string, schema: { parse(v: unknown): unknown }) => {
      const node = urls[base] as string;
      if (apps[node] !== 'running') throw new Error(`${path}: ECONNREFUSED`);
      return schema.parse(path === '/api/overview' ? { node } : listing());
    },
  } as unknown as ManagementClient;
  const nodeControl = nodeControlFake('start-cluster', {
    rabbitRunning: async (node) => {
      if (apps[node] === 'vm-down' || apps[node] === 'lost') {
        throw new NodeControlError(`environment on ${node} failed (exit 69): nodedown`);
      }
      if (apps[node] === 'booting' && apps[lastStopped] === 'running') apps[node] = 'running';
      return apps[node] === 'running';
    },
    booting: async (node) => apps[node] === 'booting' || apps[node] === 'hung',
    canControlService: service,
    startService: async (node) => {
      calls.push(`service start ${node}`);
      if (apps[node] === 'lost')
        throw new NodeControlError(`service start of ${node} failed (exit 1): no data directory`);
      apps[node] = node === lastStopped || apps[lastStopped] === 'running' ? 'running' : 'booting';
      return '';
    },
    stopService: async (node) => {
      calls.push(`service stop ${node}`);
      apps[node] = 'vm-down';
      return '';
    },
    run: async (node, action) => {
      calls.push(`${action} ${node}`);
      if (node !== lastStopped && apps[lastStopped] !== 'running') {
        throw new NodeControlError(`start_app on ${node} failed (exit 75): timeout waiting for tables`);
      }
      apps[node] = 'running';
      return '';
    },
  });
  return { context: workflowContext(management, { nodeControl }), calls, apps };
}

async function runAll(cluster: ReturnType<typeof fakeCluster>, nodes: string[] = []) {
  const plan = await startClusterWorkflow.plan(cluster.context, { nodes });
  const results: string[] = [];
  for (const action of plan.actions) {
    const failed = await startClusterWorkflow.guard(cluster.context, action, { nodes });
    results.push(
      failed ? `skipped: ${failed.reason}` : await startClusterWorkflow.execute(cluster.context, action, { nodes }),
    );
  }
  return { plan, results, verification: await startClusterWorkflow.verify(cluster.context, plan.actions, { nodes }) };
}

describe('start-cluster arguments', () => {
  it('takes the nodes in the order to start them, and the order warren recorded from the node-down alert', () => {
    const parse = (positionals: string[]) => parseWorkflowArgs(startClusterWorkflow, { positionals, flags: {} });
    expect(parse([R3, R1, R2]).data).toEqual({ nodes: [R3, R1, R2] });
    expect(parse([]).data).toEqual({ nodes: [] });
    expect(parse(['rabbit1; reboot']).error?.issues[0]?.message).toBe('a node is named like rabbit@host');
    const alert = {
      findings: [
        {
          check: 'node-down',
          subject: 'start order',
          data: { lastStopped: R3, order: [{ node: R1 }, { node: R2 }, { node: R3 }] },
        },
        { check: 'node-down', subject: R1, data: { node: R1 } },
      ],
    } as unknown as AlertState;
    expect(startClusterWorkflow.argsForAlert?.(alert)).toEqual({ nodes: [R3, R2, R1] });
    expect(startClusterWorkflow.argsForAlert?.({ findings: [] } as unknown as AlertState)).toEqual({});
    const hung = {
      findings: [{ check: 'boot-hang', subject: R1, data: { node: R1, startOrder: [R3, R2, R1] } }],
    } as unknown as AlertState;
    expect(startClusterWorkflow.argsForAlert?.(hung)).toEqual({ nodes: [R3, R2, R1] });
  });
});

describe('start-cluster after a whole-cluster stop', () => {
  it('starts the node that stopped last first, then the others, and verifies them all running', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'stopped' });
    const { plan, results, verification } = await runAll(cluster, [R3, R2, R1]);
    expect(plan.summary).toBe(
      'start 3 node(s), in this order: `rabbit3@localhost`, `rabbit2@localhost`, `rabbit1@localhost`',
    );
    expect(plan.warnings.join('\n')).toMatch(/No management URL answers: the order comes from when warren last saw/);
    expect(cluster.calls).toEqual([`start_app ${R3}`, `start_app ${R2}`, `start_app ${R1}`]);
    expect(results[0]).toMatch(/^rabbit app started on `rabbit3@localhost` in \d+ s$/);
    expect(verification).toEqual({
      ok: true,
      detail: '`rabbit3@localhost`, `rabbit2@localhost`, `rabbit1@localhost` run, and no node reports a partition',
    });
  });

  it('refuses without an order when nothing answers, and when a VM is down (start_app needs one)', async () => {
    const silent = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'stopped' });
    await expect(startClusterWorkflow.plan(silent.context, { nodes: [] })).rejects.toThrow(
      /^No management URL answers and no nodes were named/,
    );
    const dead = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'vm-down' });
    await expect(startClusterWorkflow.plan(dead.context, { nodes: [R3, R1, R2] })).rejects.toThrow(
      /^Node control cannot reach `rabbit3@localhost`: .*no `nodeControl.service`.*systemctl start rabbitmq-server/,
    );
    expect(dead.calls).toEqual([]);
  });

  it('does not start a later node while the first one does not run', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'stopped' });
    const plan = await startClusterWorkflow.plan(cluster.context, { nodes: [R3, R1] });
    const second = plan.actions[1];
    if (!second) throw new Error('no second step');
    expect(await startClusterWorkflow.guard(cluster.context, second, { nodes: [R3, R1] })).toEqual({
      reason: '`rabbit3@localhost` does not run: `rabbit1@localhost` would wait for it in its boot',
      abort: true,
    });
  });
});

describe('start-cluster with a node down', () => {
  it('starts the nodes the cluster lists as not running, leaving running ones alone', async () => {
    const cluster = fakeCluster({ [R1]: 'running', [R2]: 'running', [R3]: 'stopped' });
    const { plan, verification } = await runAll(cluster);
    expect(plan.actions.map((a) => a.key)).toEqual([`start:${R3}`]);
    expect(cluster.calls).toEqual([`start_app ${R3}`]);
    expect(verification.ok).toBe(true);
    await expect(startClusterWorkflow.plan(cluster.context, { nodes: [] })).rejects.toThrow(
      'Every node of the cluster runs: nothing to start.',
    );
  });

  it('skips a node that was started meanwhile, and says so', async () => {
    const cluster = fakeCluster({ [R1]: 'running', [R2]: 'running', [R3]: 'stopped' });
    const plan = await startClusterWorkflow.plan(cluster.context, { nodes: [] });
    cluster.apps[R3] = 'running';
    const [action] = plan.actions;
    if (!action) throw new Error('no step');
    expect(await startClusterWorkflow.guard(cluster.context, action, { nodes: [] })).toEqual({
      reason: 'the rabbit app already runs on `rabbit3@localhost`',
      abort: false,
    });
    expect(await startClusterWorkflow.execute(cluster.context, action, { nodes: [] })).toBe(
      'the rabbit app already runs on `rabbit3@localhost`',
    );
    expect(cluster.calls).toEqual([]);
  });
});

describe('start-cluster with VMs down or hung in their boot', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts a VM that is down through the service, the last-stopped first', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'vm-down' }, R3, true);
    const { plan, results, verification } = await runAll(cluster, [R3, R2, R1]);
    expect(plan.actions[0]?.label).toBe(
      'start the RabbitMQ service (its VM) of `rabbit3@localhost`, the node that stopped last, and wait until it has booted',
    );
    expect(plan.warnings.join('\n')).toMatch(/their VMs are started with `nodeControl.service`/);
    expect(cluster.calls).toEqual([`service start ${R3}`, `start_app ${R2}`, `start_app ${R1}`]);
    expect(results[0]).toMatch(/^RabbitMQ service of `rabbit3@localhost` started; its rabbit app runs after \d+ s$/);
    expect(verification.ok).toBe(true);
  });

  it('names force-boot when the node that stopped last does not start after a whole stop, and only then', async () => {
    const cluster = fakeCluster({ [R1]: 'stopped', [R2]: 'stopped', [R3]: 'lost' }, R3, true);
    const nodes = [R3, R2, R1];
    const plan = await startClusterWorkflow.plan(cluster.context, { nodes });
    const [first, second] = plan.actions;
    if (!first || !second) throw new Error('no steps');
    await expect(startClusterWorkflow.execute(cluster.context, first, { nodes })).rejects.toThrow(
      `service start of ${R3} failed (exit 1): no data directory. If \`${R3}\` is lost for good, boot \`${R2}\` (stopped next to last) without it: \`/rabbit fix force-boot ${R2} --lost ${R3}\`, then start the others.`,
    );
    // The run does not switch by itself: nothing else was started.
    expect(cluster.calls).toEqual([`service start ${R3}`]);
    // A later node's failure is its own.
    cluster.apps[R2] = 'lost';
    await expect(startClusterWorkflow.execute(cluster.context, second, { nodes })).rejects.toThrow(
      new RegExp(`^service start of ${R2} failed \\(exit 1\\): no data directory$`),
    );
  });

  it('lets a node waiting for its peers finish its boot once the last-stopped one runs, starting nothing twice', async () => {
    const cluster = fakeCluster({ [R1]: 'booting', [R2]: 'stopped', [R3]: 'stopped' });
    const { plan, results, verification } = await runAll(cluster, [R3, R2, R1]);
    expect(plan.actions[2]?.label).toBe(
      '`rabbit1@localhost` is booting already: wait for it to finish with `rabbit3@localhost`; if it has not within 60 s, end its VM and start it again',
    );
    expect(plan.warnings.join('\n')).toMatch(/`rabbit1@localhost` is booting: without `nodeControl.service`/);
    expect(cluster.calls).toEqual([`start_app ${R3}`, `start_app ${R2}`]);
    // Its boot ended as soon as node 3 ran, before its own step came.
    expect(results[2]).toBe('skipped: the rabbit app already runs on `rabbit1@localhost`');
    expect(verification.ok).toBe(true);
  });

  it('ends and starts again the VM of a node hung in its boot while its peers run', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const cluster = fakeCluster({ [R1]: 'hung', [R2]: 'running', [R3]: 'running' }, R3, true);
    const plan = await startClusterWorkflow.plan(cluster.context, { nodes: [R1] });
    const [action] = plan.actions;
    if (!action) throw new Error('no step');
    expect(action.label).toBe(
      'end the VM of `rabbit1@localhost`, hung in its boot while other nodes run, and start it again',
    );
    const done = startClusterWorkflow.execute(cluster.context, action, { nodes: [R1] });
    await vi.advanceTimersByTimeAsync(12_000);
    expect(await done).toBe(
      '`rabbit1@localhost` was still booting 10 s after its peers ran: its VM was ended and started again, and it runs',
    );
    expect(cluster.calls).toEqual([`service stop ${R1}`, `service start ${R1}`]);
  });

  it('fails the step on a hung boot it cannot end, saying what would', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const cluster = fakeCluster({ [R1]: 'hung', [R2]: 'running', [R3]: 'running' });
    const plan = await startClusterWorkflow.plan(cluster.context, { nodes: [R1] });
    const [action] = plan.actions;
    if (!action) throw new Error('no step');
    const done = startClusterWorkflow.execute(cluster.context, action, { nodes: [R1] });
    const failed = expect(done).rejects.toThrow(/takes `nodeControl.service`, which this cluster does not configure/);
    await vi.advanceTimersByTimeAsync(12_000);
    await failed;
    expect(cluster.calls).toEqual([]);
  });
});
