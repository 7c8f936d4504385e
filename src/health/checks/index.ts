/** Every health check. Adding a check means adding its id to CHECK_IDS and its module here. */
import { CHECK_IDS, type CheckId } from '../check-ids.js';
import type { HealthCheck } from '../health-check.js';
import { alarmsCheck } from './alarms.js';
import { backlogCheck } from './backlog.js';
import { bootHangCheck } from './boot-hang.js';
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

/** One check per id, each under its own id: a check missing, extra or misfiled here does not compile. */
const byId: { [K in CheckId]: HealthCheck & { id: K } } = {
  'network-partition': networkPartitionCheck,
  'partition-handling': partitionHandlingCheck,
  'node-down': nodeDownCheck,
  'boot-hang': bootHangCheck,
  alarms: alarmsCheck,
  'resource-usage': resourceUsageCheck,
  'mirror-sync': mirrorSyncCheck,
  quorum: quorumCheck,
  'quorum-members': quorumMembersCheck,
  'quorum-forgotten-members': quorumForgottenMembersCheck,
  'zombie-queues': zombieQueuesCheck,
  backlog: backlogCheck,
  'channel-leak': channelLeakCheck,
  heartbeats: heartbeatsCheck,
  'master-imbalance': masterImbalanceCheck,
  'policy-coverage': policyCoverageCheck,
  'stuck-consumers': stuckConsumersCheck,
  'delivery-limit': deliveryLimitCheck,
  unroutable: unroutableCheck,
  'broker-hygiene': brokerHygieneCheck,
  'stream-retention': streamRetentionCheck,
  'stream-replicas': streamReplicasCheck,
};

/** Every check, in the order of CHECK_IDS (the order they run and are listed). */
export const allChecks: readonly HealthCheck[] = CHECK_IDS.map((id) => byId[id]);
