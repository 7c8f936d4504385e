/**
 * Pieces that several integration tests build on the local stack: its cluster config and a management client for it. (The unsynchronised
 * mirror fixture is the demo's fault, in src/demo/unsynced-mirror.ts.)
 */
import type { LocalStackDescription } from '../../src/devstack/index.js';
import { ManagementClient } from '../../src/management/management-client.js';

/** The stack as warren's cluster `name` is configured (for a ClusterDirectory), with no tap. */
export function stackCluster(
  desc: LocalStackDescription,
  name = 'default',
  urls: string[] = desc.nodes.map((n) => n.managementUrl),
) {
  return {
    name,
    amqp: [],
    management: urls,
    managementUser: desc.username,
    managementPassword: desc.password,
    remediation: { user: desc.username, password: desc.password },
    vhost: '/',
  };
}

/** A management client for the stack, as warren's cluster `name` would have it. */
export function stackManagement(
  desc: LocalStackDescription,
  name = 'default',
  urls: string[] = desc.nodes.map((n) => n.managementUrl),
): ManagementClient {
  return new ManagementClient(stackCluster(desc, name, urls));
}
