/**
 * A cluster config whose management URL nobody answers (port 9, discard), for unit tests that replace its
 * management client's `get` with a fake; each test names its own password so the secret scan can tell them apart.
 */
import type { ClusterConfig } from '../../src/config/schema.js';

export function unreachableCluster(password: string, more: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name: 'prod',
    amqp: ['amqp://127.0.0.1:9'],
    management: ['http://127.0.0.1:9'],
    managementUser: 'monitor',
    managementPassword: password,
    vhost: '/',
    ...more,
  };
}
