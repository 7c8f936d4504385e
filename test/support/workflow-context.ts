/** What a workflow's unit tests hand its steps: the context the engine builds, and node control that fails loudly. */
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import type { NodeControl } from '../../src/remediation/node-control.js';
import type { WorkflowContext } from '../../src/remediation/workflow-definition.js';

/** A run's context on cluster `local`, with the default remediation and health settings unless given. */
export function workflowContext(
  management: ManagementClient,
  options: { nodeControl?: NodeControl; remediation?: Record<string, unknown> } = {},
): WorkflowContext {
  return {
    cluster: 'local',
    vhost: '/',
    management,
    ...(options.nodeControl ? { nodeControl: options.nodeControl } : {}),
    remediation: remediationSchema.parse(options.remediation ?? {}),
    health: healthSchema.parse({}),
    runId: 'r-0000abcd',
    requester: 'U0REQ',
  };
}

const METHODS = [
  'run',
  'memory',
  'setMemoryWatermark',
  'addStreamReplica',
  'streamMembers',
  'rabbitRunning',
  'forgetClusterNode',
  'shrinkMembers',
  'booting',
  'startService',
  'stopService',
] as const satisfies readonly (keyof NodeControl)[];

/** Node control with the methods `workflow` uses; any other one throws, so a step that strays fails its test. */
export function nodeControlFake(workflow: string, methods: Partial<NodeControl>): NodeControl {
  const strays = Object.fromEntries(
    METHODS.map((name) => [
      name,
      async () => {
        throw new Error(`${workflow} does not call nodeControl.${name}`);
      },
    ]),
  );
  return { canControlService: false, ...strays, ...methods } as NodeControl;
}
