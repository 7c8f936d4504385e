/** Every health check, in the order of CHECK_IDS. Adding a check means adding its id there and its module here. */
import type { HealthCheck } from '../health-check.js';
import { alarmsCheck } from './alarms.js';
import { backlogCheck } from './backlog.js';
import { brokerHygieneCheck } from './broker-hygiene.js';
import { channelLeakCheck } from './channel-leak.js';
import { deliveryLimitCheck } from './delivery-limit.js';
import { heartbeatsCheck } from './heartbeats.js';
import { masterImbalanceCheck } from './master-imbalance.js';
import { mirrorSyncCheck } from './mirror-sync.js';
import { networkPartitionCheck } from './network-partition.js';
import { nodeDownCheck } from './node-down.js';
import { partitionHandlingCheck } from './partition-handling.js';
import { policyCoverageCheck } from './policy-coverage.js';
import { quorumCheck } from './quorum.js';
import { quorumForgottenMembersCheck } from './quorum-forgotten-members.js';
import { quorumMembersCheck } from './quorum-members.js';
import { resourceUsageCheck } from './resource-usage.js';
import { streamReplicasCheck } from './stream-replicas.js';
import { streamRetentionCheck } from './stream-retention.js';
import { stuckConsumersCheck } from './stuck-consumers.js';
import { unroutableCheck } from './unroutable.js';
import { zombieQueuesCheck } from './zombie-queues.js';

export const allChecks: readonly HealthCheck[] = [
  networkPartitionCheck,
  partitionHandlingCheck,
  nodeDownCheck,
  alarmsCheck,
  resourceUsageCheck,
  mirrorSyncCheck,
  quorumCheck,
  quorumMembersCheck,
  quorumForgottenMembersCheck,
  zombieQueuesCheck,
  backlogCheck,
  channelLeakCheck,
  heartbeatsCheck,
  masterImbalanceCheck,
  policyCoverageCheck,
  stuckConsumersCheck,
  deliveryLimitCheck,
  unroutableCheck,
  brokerHygieneCheck,
  streamRetentionCheck,
  streamReplicasCheck,
];
