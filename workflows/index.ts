/** Every remediation workflow, one definition per file in this folder, in the order `workflows` lists them. */
import type { AnyWorkflowDefinition } from '../src/remediation/workflow-definition.js';
import { closeLeakyConnectionsWorkflow } from './close-leaky-connections.js';
import { deleteZombieQueuesWorkflow } from './delete-zombie-queues.js';
import { purgeQueueWorkflow } from './purge-queue.js';

export const allWorkflows: readonly AnyWorkflowDefinition[] = [
  deleteZombieQueuesWorkflow,
  purgeQueueWorkflow,
  closeLeakyConnectionsWorkflow,
];
