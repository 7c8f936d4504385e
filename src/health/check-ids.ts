/**
 * The ids of warren's health checks, in the order they are run and listed. The config schema validates
 * `health.for` and `health.disabled` against this list, so a misspelt check id is a config error, not a check
 * that silently keeps running.
 */
export const CHECK_IDS = [
  'network-partition',
  'partition-handling',
  'node-down',
  'boot-hang',
  'alarms',
  'resource-usage',
  'mirror-sync',
  'quorum',
  'quorum-members',
  'quorum-forgotten-members',
  'zombie-queues',
  'backlog',
  'channel-leak',
  'heartbeats',
  'master-imbalance',
  'policy-coverage',
  'stuck-consumers',
  'delivery-limit',
  'unroutable',
  'broker-hygiene',
  'stream-retention',
  'stream-replicas',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];
