/** Every remediation workflow, one definition per file in this folder, in the order `workflows` lists them. */
import type { AnyWorkflowDefinition } from '../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow } from './apply-policy.js';
import { closeHeartbeatlessConnectionsWorkflow } from './close-heartbeatless-connections.js';
import { closeLeakyConnectionsWorkflow } from './close-leaky-connections.js';
import { deleteZombieQueuesWorkflow } from './delete-zombie-queues.js';
import { forceBootWorkflow } from './force-boot.js';
import { forgetNodeWorkflow } from './forget-node.js';
import { growQuorumQueuesWorkflow } from './grow-quorum-queues.js';
import { healPartitionWorkflow } from './heal-partition.js';
import { purgeQueueWorkflow } from './purge-queue.js';
import { raiseMemoryWatermarkWorkflow } from './raise-memory-watermark.js';
import { rebalanceQuorumLeadersWorkflow } from './rebalance-quorum-leaders.js';
import { repairStreamReplicasWorkflow } from './repair-stream-replicas.js';
import { shrinkForgottenMembersWorkflow } from './shrink-forgotten-members.js';
import { startClusterWorkflow } from './start-cluster.js';
import { syncMirrorsWorkflow } from './sync-mirrors.js';

export const allWorkflows: readonly AnyWorkflowDefinition[] = [
  deleteZombieQueuesWorkflow,
  purgeQueueWorkflow,
  closeLeakyConnectionsWorkflow,
  closeHeartbeatlessConnectionsWorkflow,
  syncMirrorsWorkflow,
  applyPolicyWorkflow,
  healPartitionWorkflow,
  raiseMemoryWatermarkWorkflow,
  repairStreamReplicasWorkflow,
  growQuorumQueuesWorkflow,
  rebalanceQuorumLeadersWorkflow,
  shrinkForgottenMembersWorkflow,
  forgetNodeWorkflow,
  startClusterWorkflow,
  forceBootWorkflow,
];
