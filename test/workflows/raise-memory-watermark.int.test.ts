/**
 * raise-memory-watermark against the real cluster: a real memory alarm (the second node's watermark set so low
 * that its own use exceeds it, as the demo's fault does), planned, guarded, executed through node control
 * (rabbitmqctl) and verified by the alarm clearing. Every node's watermark is put back to 0.4 afterwards.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { attachLocalStack, type LocalStack } from '../../src/devstack/index.js';
import { WorkflowRefusedError } from '../../src/errors.js';
import { nodeSchema } from '../../src/management/schemas.js';
import { CommandNodeControl } from '../../src/remediation/node-control.js';
import type { PlannedAction, WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { raiseMemoryWatermarkWorkflow as workflow } from '../../workflows/raise-memory-watermark.js';
import { restoreCluster } from '../support/cluster-health.js';
import { nodeControlCommand } from '../support/stack-env.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { workflowArgs } from '../support/workflow-args.js';

describe('raise-memory-watermark against the real cluster', () => {
  const desc = inject('stack');
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const management = stackManagement(desc, 'local');
  const nodeControl = new CommandNodeControl({
    command: nodeControlCommand(desc),
    env: { HOME: desc.cookieHome },
    timeoutMs: 60_000,
  });
  const context: WorkflowContext = {
    cluster: 'local',
    vhost: '/',
    management,
    nodeControl,
    remediation: remediationSchema.parse({}),
    health: healthSchema.parse({}),
    runId: 'r-1e57f1a2',
    requester: 'U0WORKFLOWTEST',
  };
  let stack: LocalStack;

  const args = (text: string) => workflowArgs(workflow, text);
  const alarmed = async (name: string) =>
    (await management.get(`/api/nodes/${encodeURIComponent(name)}`, nodeSchema)).mem_alarm === true;
  const setWatermark = async (name: string, value: string) => {
    const result = await stack.rabbitmqctl(name, ['set_vm_memory_high_watermark', value]);
    expect(result.code, result.stderr).toBe(0);
  };

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    await restoreCluster(desc, stack);
  });

  afterAll(async () => {
    for (const name of [node1, node2, node3]) await stack?.rabbitmqctl(name, ['set_vm_memory_high_watermark', '0.4']);
  });

  it('clears a real memory alarm by raising the alarmed node back to 0.4, after re-checking it', async () => {
    await setWatermark(node2, '0.0001');
    await waitUntil(() => alarmed(node2), 'the memory alarm on the second node', 30_000);

    // As from the alert's Fix… button: no node named, so the alarmed ones.
    const plan = await workflow.plan(context, args(''));
    expect(plan.actions.map((a) => a.data)).toEqual([{ node: node2, from: 0.0001, to: 0.4 }]);
    expect(plan.warnings.join('\n')).toMatch(new RegExp(`${node2}.*RAM .*used .*limit .* → `));
    expect(plan.warnings.join('\n')).toMatch(/Until the next restart only/);
    expect(workflow.risk).toBe('critical');

    const action = plan.actions[0] as PlannedAction;
    expect(await workflow.guard(context, action, args(''))).toBeUndefined();
    expect(await workflow.execute(context, action, args(''))).toMatch(/set to 0.4 of RAM/);
    // Idempotent: a second execution finds it done.
    expect(await workflow.execute(context, action, args(''))).toMatch(/already at 0.4/);
    const verification = await workflow.verify(context, [action], args(''));
    expect(verification.ok, verification.detail).toBe(true);
    expect(verification.detail).toMatch(/alarm cleared/);
    // The node cleared its alarm; the management API (what the alert reads) follows within a stats interval.
    await waitUntil(async () => !(await alarmed(node2)), 'the management API to show the alarm cleared', 30_000);
    expect((await nodeControl.memory(node2)).relative).toBe(0.4);

    // With the alarm gone, the plan has nothing to do, and says why.
    await expect(workflow.plan(context, args(''))).rejects.toThrow(/No node is in memory alarm/);
  }, 120_000);

  it('aborts when someone changed the watermark between plan and step', async () => {
    await setWatermark(node2, '0.0001');
    await waitUntil(() => alarmed(node2), 'the memory alarm on the second node', 30_000);
    const plan = await workflow.plan(context, args(`${node2} --to 0.5`));
    await setWatermark(node2, '0.0002');
    expect(await workflow.guard(context, plan.actions[0] as PlannedAction, args(''))).toEqual({
      reason: 'its watermark is 0.0002 now, not the planned 0.0001',
      abort: true,
    });
    await setWatermark(node2, '0.4');
  }, 120_000);

  it('refuses to go above 0.7 of RAM, to "raise" a node to a lower value, or to raise a node not in alarm', async () => {
    expect(() => args('--to 0.8')).toThrow(/at most 0.7/);
    await setWatermark(node3, '0.7');
    try {
      const refusal = await workflow.plan(context, args(node3)).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(WorkflowRefusedError);
      expect(String(refusal)).toMatch(/at 0.7 of RAM already.*Free memory instead/);
      await expect(workflow.plan(context, args(`${node3} --to 0.5`))).rejects.toThrow(/would not raise it/);
      await setWatermark(node3, '0.4');
      await expect(workflow.plan(context, args(node3))).rejects.toThrow(/is not in memory alarm/);
    } finally {
      await setWatermark(node3, '0.4');
    }
  }, 60_000);
});
