/**
 * A workflow's arguments are parsed once, where they come in, and stored typed in the run: what every workflow's
 * schema outputs must read back unchanged after the JSON round trip through Redis, since a run's arguments are
 * parsed again when it executes. An alert's values merge with the words typed after its id, the words winning.
 */
import { describe, expect, it } from 'vitest';
import { describeArgs, parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { growQuorumQueuesWorkflow } from '../../workflows/grow-quorum-queues.js';
import { allWorkflows } from '../../workflows/index.js';
import { raiseMemoryWatermarkWorkflow } from '../../workflows/raise-memory-watermark.js';
import { workflowArgs } from '../support/workflow-args.js';

/** Words each workflow takes, with every field it has where there is one. */
const SAMPLES: Record<string, string[]> = {
  'delete-zombie-queues': ['', 'compute_fanout_*'],
  'purge-queue': ['"notifications info" --vhost /nova --force', 'q1'],
  'close-leaky-connections': ['', 'nova-* --min-channels 50'],
  'close-heartbeatless-connections': ['', 'cinder-*'],
  'sync-mirrors': ['', 'billing.*'],
  'apply-policy': [
    'expiry',
    'expiry --value 10m --vhost "my cloud" --name p1 --priority 3 --pattern ^reply_',
    'max-length --value 500',
    'delivery-limit --dlx dead',
    'stream-retention --value 1h',
  ],
  'heal-partition': ['', '--trust rabbit@a'],
  'raise-memory-watermark': ['', 'rabbit@a rabbit@b rabbit@a --to 0.5'],
  'grow-quorum-queues': ['rabbit@c'],
  'rebalance-quorum-leaders': [''],
  'shrink-forgotten-members': ['rabbit@gone'],
  'repair-stream-replicas': ['', '*_fanout'],
  'forget-node': ['rabbit@gone'],
  'start-cluster': ['', 'rabbit@c rabbit@a rabbit@b'],
  'force-boot': ['rabbit@b --lost rabbit@c'],
};

describe('workflow arguments', () => {
  it.each(allWorkflows.map((w) => [w.name, w] as const))('%s reads back what it stored', (name, workflow) => {
    const samples = SAMPLES[name];
    expect(samples, `samples for ${name}`).toBeDefined();
    for (const text of samples ?? []) {
      const args = workflowArgs(workflow, text);
      const stored = JSON.parse(JSON.stringify(args));
      expect(workflow.args.parse(stored), `${name} ${text}`).toEqual(args);
    }
  });

  it('names and types the words once', () => {
    expect(workflowArgs(raiseMemoryWatermarkWorkflow, 'rabbit@a rabbit@b rabbit@a --to 0.5')).toEqual({
      nodes: ['rabbit@a', 'rabbit@b'],
      to: 0.5,
    });
    expect(workflowArgs(applyPolicyWorkflow, 'expiry --value 10m')).toMatchObject({ kind: 'expiry', value: 600_000 });
    expect(workflowArgs(applyPolicyWorkflow, 'max-length --value 500')).toMatchObject({ value: 500 });
  });

  it('merges an alert’s values with the words typed after its id, the words winning field by field', () => {
    const fromAlert = { kind: 'expiry', vhost: 'openstack' } as const;
    expect(parseWorkflowArgs(applyPolicyWorkflow, { positionals: [], flags: {} }, fromAlert).data).toMatchObject({
      kind: 'expiry',
      vhost: 'openstack',
      value: 1_800_000,
    });
    expect(
      parseWorkflowArgs(applyPolicyWorkflow, { positionals: [], flags: { value: '5m', vhost: '/' } }, fromAlert).data,
    ).toMatchObject({ kind: 'expiry', vhost: '/', value: 300_000 });
    // A duration is read by the kind the alert gave: the words alone could not tell a duration from a count.
    expect(
      parseWorkflowArgs(applyPolicyWorkflow, { positionals: [], flags: { value: '1h' } }, { kind: 'max-length' }).error
        ?.issues[0]?.message,
    ).toMatch(/^bad --value "1h"/);
    expect(
      parseWorkflowArgs(
        raiseMemoryWatermarkWorkflow,
        { positionals: [], flags: { to: '0.6' } },
        { nodes: ['rabbit@a'] },
      ).data,
    ).toEqual({ nodes: ['rabbit@a'], to: 0.6 });
  });

  it('says what is missing when neither the alert nor the words give it', () => {
    const parsed = parseWorkflowArgs(growQuorumQueuesWorkflow, { positionals: [], flags: {} }, {});
    expect(parsed.error?.issues.map((i) => i.message)).toEqual(['name the node to add members on, e.g. rabbit@host-3']);
    expect(
      parseWorkflowArgs(growQuorumQueuesWorkflow, { positionals: [], flags: {} }, { node: 'rabbit@c' }).data,
    ).toEqual({ node: 'rabbit@c' });
    expect(parseWorkflowArgs(growQuorumQueuesWorkflow, { positionals: ['nonode'], flags: {} }).success).toBe(false);
  });

  it('describes stored arguments for people', () => {
    expect(describeArgs({})).toBe('none');
    expect(describeArgs({ nodes: ['rabbit@a', 'rabbit@b'], to: 0.5, vhost: 'my cloud', gone: undefined })).toBe(
      'nodes=rabbit@a,rabbit@b to=0.5 vhost="my cloud"',
    );
  });
});
