/**
 * `npm run demo -- --vhosts per-service`: the simulated cloud with a vhost per service, as openstack-ansible lays it
 * out. The vhosts and which exchange publishes into which are those of warren's own `tap.vhostPerService` for the
 * demo's three services, so the demo shows exactly what that one config line listens to. Only the notifications
 * move: the RPC servers, the API client and the faults stay in `/`, to keep the demo small.
 */

import { perServiceBindings, type VhostPerService } from '../config/tap-schema.js';
import type { LocalStackDescription } from '../devstack/index.js';
import { managementAuthorization } from '../devstack/index.js';
import { DemoError } from '../errors.js';

export const VHOST_LAYOUTS = ['shared', 'per-service'] as const;
export type VhostLayout = (typeof VHOST_LAYOUTS)[number];

export function isVhostLayout(value: string): value is VhostLayout {
  return (VHOST_LAYOUTS as readonly string[]).includes(value);
}

/** The demo's services (nova, neutron, cinder), each in `/<service>`: warren's config and the simulator share it. */
export const DEMO_VHOST_PER_SERVICE: VhostPerService = { services: ['nova', 'neutron', 'cinder'], vhost: '/{service}' };

/** exchange → the vhost its service publishes notifications in (cinder's `openstack` in `/cinder`). */
export function serviceVhosts(): Record<string, string> {
  return Object.fromEntries(perServiceBindings(DEMO_VHOST_PER_SERVICE).map((b) => [b.exchange, b.vhost as string]));
}

/** Creates the service vhosts on the stack, with every permission for its user (oslo's and warren's). */
export async function createServiceVhosts(stack: LocalStackDescription): Promise<string[]> {
  const vhosts = [...new Set(Object.values(serviceVhosts()))];
  const request = async (path: string, body?: unknown) => {
    const response = await fetch(`${stack.nodes[0]?.managementUrl}/api${path}`, {
      method: 'PUT',
      headers: { authorization: managementAuthorization(stack), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new DemoError(`PUT ${path}: HTTP ${response.status}`);
  };
  for (const vhost of vhosts) {
    await request(`/vhosts/${encodeURIComponent(vhost)}`);
    await request(`/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(stack.username)}`, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
  }
  return vhosts;
}
