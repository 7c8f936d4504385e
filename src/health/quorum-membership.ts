/**
 * Where quorum queues' members are, against the cluster's nodes: which running nodes a queue lacks a member on
 * (under-replication: usually a node that was reset or added after the queues were declared), which members are
 * offline, and which members name a node that is not in the cluster at all (forgotten or renamed). Grouped per node,
 * because one node explains most gaps ("37 queues have no member on rabbit-3"), with each queue's OpenStack traffic
 * from its name. Pure: the quorum-members and quorum-forgotten-members checks and the grow and shrink workflows'
 * plans all read it, so an alert and the Fix… it offers agree on the queues.
 */
import type { ManagementNode } from '../management/schemas.js';
import type { QueueInfo } from './cluster-snapshot.js';
import { type QueueTraffic, queueTraffic } from './oslo-topic-services.js';

export type MembershipGap = 'missing' | 'offline' | 'forgotten' | 'below-target';

export interface GapQueue {
  vhost: string;
  name: string;
  members: string[];
  online: string[];
  leader?: string;
  traffic: QueueTraffic;
  service?: string;
}

export interface NodeGap {
  gap: MembershipGap;
  /** The node the members are missing on, offline on, or forgotten on; undefined for below-target. */
  node?: string;
  queues: GapQueue[];
}

/** How many members each quorum queue should have: the running nodes, or fewer when a target size is set. */
export function expectedMembers(runningNodes: number, targetSize: number | undefined): number {
  return targetSize === undefined ? runningNodes : Math.min(targetSize, runningNodes);
}

/**
 * The gaps of every quorum queue, grouped per node and kind, largest group first. `targetSize` is
 * `health.thresholds.quorumTargetSize`: unset, a queue should have a member on every running node.
 */
export function membershipGaps(
  nodes: readonly Pick<ManagementNode, 'name' | 'running'>[],
  queues: readonly QueueInfo[],
  targetSize?: number,
): NodeGap[] {
  const known = new Set(nodes.map((n) => n.name));
  const running = nodes.filter((n) => n.running).map((n) => n.name);
  const expected = expectedMembers(running.length, targetSize);
  const groups = new Map<string, NodeGap>();
  const add = (gap: MembershipGap, node: string | undefined, queue: GapQueue) => {
    const key = `${gap}:${node ?? ''}`;
    let group = groups.get(key);
    if (!group) {
      group = { gap, ...(node !== undefined ? { node } : {}), queues: [] };
      groups.set(key, group);
    }
    group.queues.push(queue);
  };
  for (const q of queues) {
    if (q.type !== 'quorum' || !q.members || q.members.length === 0) continue;
    const members = [...q.members].sort();
    const queue: GapQueue = {
      vhost: q.vhost,
      name: q.name,
      members,
      online: [...(q.online ?? [])].sort(),
      ...(q.leader ? { leader: q.leader } : {}),
      ...queueTraffic(q.name),
    };
    const live = members.filter((m) => known.has(m));
    for (const m of members) {
      if (!known.has(m)) add('forgotten', m, queue);
      else if (q.online !== undefined && !q.online.includes(m)) add('offline', m, queue);
    }
    if (live.length >= expected) continue;
    if (expected === running.length) {
      for (const node of running) if (!members.includes(node)) add('missing', node, queue);
    } else add('below-target', undefined, queue);
  }
  return [...groups.values()].sort(
    (a, b) => b.queues.length - a.queues.length || `${a.gap}${a.node}`.localeCompare(`${b.gap}${b.node}`),
  );
}

/** "12 RPC (nova-compute, neutron-l3-agent), 3 notification, 1 other": the traffic of a group's queues. */
export function trafficSummary(queues: readonly GapQueue[]): {
  line: string;
  rpc: number;
  notifications: number;
  other: number;
  services: string[];
} {
  const rpc = queues.filter((q) => q.traffic === 'rpc').length;
  const notifications = queues.filter((q) => q.traffic === 'notifications').length;
  const other = queues.length - rpc - notifications;
  const services = [...new Set(queues.flatMap((q) => q.service ?? []))].sort();
  const parts = [
    rpc > 0 ? `${rpc} RPC${services.length > 0 ? ` (${services.join(', ')})` : ''}` : '',
    notifications > 0 ? `${notifications} notification` : '',
    other > 0 ? `${other} other` : '',
  ].filter(Boolean);
  return { line: parts.join(', '), rpc, notifications, other, services };
}
