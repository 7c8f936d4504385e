/**
 * Public surface of the devstack: a local redis + RabbitMQ cluster for tests, `warren start` without a configured
 * cluster, and demos. Re-exports only; the implementation files stay internal.
 */

export {
  type BrokerRuntimeDescription,
  RABBITMQ_SERIES,
  type RabbitmqSeries,
  seriesFromEnv,
} from './broker-runtime.js';
export { type CleanupTarget, registerExitCleanup } from './cleanup.js';
export { LocalStackError, type LocalStackErrorCode } from './errors.js';
export { RABBITMQ_BIN_DIR } from './install.js';
export { attachLocalStack, startLocalStack } from './local-stack.js';
export {
  type CutOptions,
  cutPartition,
  healPartition,
  managementAuthorization,
  partitionViews,
  restartRabbitApp,
} from './partition.js';
export { allocatePorts } from './ports.js';
export type {
  LocalRabbitNode,
  LocalStack,
  LocalStackDescription,
  LocalStackOptions,
  RabbitCli,
  RabbitmqctlResult,
} from './types.js';
export { RABBIT_CLIS } from './types.js';
