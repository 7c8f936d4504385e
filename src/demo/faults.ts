/**
 * The demo's fault injection: each fault makes one runbook failure happen for real on the local cluster, so the
 * whole loop can be watched (alert, Fix…, approval, resolution). Most are fixed by warren's own workflow; `clear`
 * undoes what the workflow does not (a memory watermark, an open connection) or cleans up after a demo. A fault that
 * cannot happen on the stack's RabbitMQ (a mirror where mirroring was removed) says so and is never injected.
 */

import type { ChannelModel } from 'amqplib';
import { cutPartition, healPartition, type LocalStack, type RabbitmqSeries } from '../devstack/index.js';
import { DemoError } from '../errors.js';
import { hasClassicMirroring, parseBrokerVersion } from '../management/broker-version.js';
import { notificationQueue } from './oslo-layout.js';
import type { TrafficSimulator } from './traffic-simulator.js';
import { type UnsyncedMirror, unsyncedMirror } from './unsynced-mirror.js';

/** Connections and queues that faults hold open until they are cleared. */
export interface HeldByFaults {
  leak?: ChannelModel;
  quiet?: ChannelModel;
  mirror?: UnsyncedMirror & { connection: ChannelModel };
}

export interface FaultContext {
  stack: LocalStack;
  simulator: TrafficSimulator;
  held: HeldByFaults;
}

export interface Fault {
  name: string;
  /** What it does and what to expect, in one line. */
  summary: string;
  /** Makes it happen; resolves with what was done. */
  inject(context: FaultContext): Promise<string>;
  /** Undoes it by hand; resolves with what was done. */
  clear(context: FaultContext): Promise<string>;
  /** Why it cannot happen on that RabbitMQ series; undefined where it can. */
  missingOn?(series: RabbitmqSeries): string | undefined;
}

const BACKLOG_QUEUE = 'notifications.info';
const LEAK_CHANNELS = 150;

async function ctl(stack: LocalStack, node: string, args: string[]): Promise<void> {
  const result = await stack.rabbitmqctl(node, args, { timeoutMs: 60_000 });
  if (result.code !== 0)
    throw new DemoError(`rabbitmqctl ${args[0]} on ${node} failed: ${result.stderr || result.stdout}`);
}

const node = (stack: LocalStack, i: number) => stack.nodes[i]?.name as string;

export const FAULTS: readonly Fault[] = [
  {
    name: 'zombie',
    summary:
      'kill a nova-compute RPC server with SIGKILL and restart it: its old compute_fanout_<id> queue (kolla layout: ' +
      'its host retired, its reply_<host>:nova-compute:1 queue) is left behind, holding messages',
    async inject({ simulator }) {
      const { killed, replacement, zombieQueue } = await simulator.crashServer('compute');
      return `killed ${killed.service} on ${killed.host} (pid ${killed.child.pid}) with SIGKILL and started it again on ${replacement.host} (pid ${replacement.child.pid}); ${zombieQueue} has no consumer now`;
    },
    async clear() {
      return "nothing to undo: fix it with the alert's Fix… button (delete-zombie-queues)";
    },
  },
  {
    name: 'backlog',
    summary: `bind a ${BACKLOG_QUEUE} queue nobody consumes (a notification consumer that went away) and let INFO notifications pile up`,
    async inject({ stack, simulator }) {
      const connection = await simulator.openConnection('ceilometer-agent-notification');
      const channel = await connection.createChannel();
      const queue = notificationQueue(simulator.layout, BACKLOG_QUEUE);
      await channel.assertQueue(queue.name, queue.options);
      for (const exchange of ['nova', 'neutron', 'openstack']) {
        await channel.bindQueue(BACKLOG_QUEUE, exchange, 'notifications.info');
      }
      await connection.close();
      await simulator.burst('nova.instance.create.end', 1_000);
      return `${BACKLOG_QUEUE} bound to nova, neutron and openstack with no consumer, 1,000 notifications in it already (${stack.nodes[0]?.name})`;
    },
    async clear({ simulator }) {
      const connection = await simulator.openConnection('ceilometer-agent-notification');
      const channel = await connection.createChannel();
      await channel.deleteQueue(BACKLOG_QUEUE);
      await connection.close();
      return `${BACKLOG_QUEUE} deleted`;
    },
  },
  {
    name: 'channel-leak',
    summary: `a neutron-openvswitch-agent connection that opens ${LEAK_CHANNELS} channels and never closes them`,
    async inject({ simulator, held }) {
      held.leak ??= await simulator.openConnection('neutron-openvswitch-agent');
      for (let i = 0; i < LEAK_CHANNELS; i++) await held.leak.createChannel();
      return `one neutron-openvswitch-agent connection now holds ${LEAK_CHANNELS} channels`;
    },
    async clear({ held }) {
      await held.leak?.close().catch(() => undefined);
      held.leak = undefined;
      return 'the leaking connection is closed';
    },
  },
  {
    name: 'heartbeat',
    summary: 'a cinder-scheduler connection with heartbeats disabled (heartbeat_timeout_threshold = 0)',
    async inject({ simulator, held }) {
      held.quiet ??= await simulator.openConnection('cinder-scheduler', { heartbeat: 0 });
      return 'a cinder-scheduler connection without heartbeats is open';
    },
    async clear({ held }) {
      await held.quiet?.close().catch(() => undefined);
      held.quiet = undefined;
      return 'the connection without heartbeats is closed';
    },
  },
  {
    name: 'memory-alarm',
    summary: 'set a tiny memory watermark on the second node: its memory alarm blocks every publisher',
    async inject({ stack }) {
      await ctl(stack, node(stack, 1), ['set_vm_memory_high_watermark', '0.0001']);
      return `memory watermark of ${node(stack, 1)} set to 0.0001: alarm raised, publishers blocked`;
    },
    async clear({ stack }) {
      await ctl(stack, node(stack, 1), ['set_vm_memory_high_watermark', '0.4']);
      return `memory watermark of ${node(stack, 1)} back to 0.4`;
    },
  },
  {
    name: 'partition',
    summary:
      'cut the second node off from the first (erlang:disconnect_node on 3.x; on 4.x its VM frozen past net_ticktime, then thawed): a real network partition',
    async inject({ stack }) {
      const views = await cutPartition(stack, node(stack, 0), node(stack, 1));
      const seen = [...views].map(([by, cannotSee]) => `${by} cannot reach ${cannotSee.join(', ')}`).join('; ');
      return `${node(stack, 1)} cut off from ${node(stack, 0)} (${seen}); fix it with heal-partition (two approvers)`;
    },
    async clear({ stack }) {
      // By hand, as the runbook says: restart the app of the nodes on the smaller side, until no node reports one.
      const restarted = await healPartition(stack);
      return restarted.length > 0 ? `rabbit app restarted on ${restarted.join(', then ')}` : 'no partition to heal';
    },
  },
  {
    name: 'unsynced-mirror',
    summary: 'a mirrored queue holding messages gets a new mirror under ha-sync-mode manual: unsynchronised',
    missingOn(series) {
      const version = parseBrokerVersion(series);
      return version && !hasClassicMirroring(version)
        ? 'classic queue mirroring was removed in RabbitMQ 4.0 (quorum queues replicate instead)'
        : undefined;
    },
    async inject({ stack, simulator, held }) {
      // The fixture's channel removes the queue again on clear: the connection stays open until then.
      const connection = await simulator.openConnection('heat-engine');
      try {
        held.mirror = { ...(await unsyncedMirror(stack, stack, connection, 'heat-engine.demo')), connection };
      } catch (error) {
        await connection.close().catch(() => undefined);
        throw error;
      }
      return `${held.mirror.queue} has a mirror on ${node(stack, 2)} that is not synchronised; fix it with sync-mirrors`;
    },
    async clear({ held }) {
      await held.mirror?.remove();
      await held.mirror?.connection.close().catch(() => undefined);
      const queue = held.mirror?.queue;
      held.mirror = undefined;
      return queue ? `${queue} deleted and its policy cleared` : 'no mirrored queue to remove';
    },
  },
];

export function faultNamed(name: string): Fault | undefined {
  return FAULTS.find((f) => f.name === name);
}

/** "not available on RabbitMQ 4.0: <why>" when `fault` cannot happen on `series`; undefined when it can. */
export function faultUnavailable(fault: Fault, series: RabbitmqSeries): string | undefined {
  const why = fault.missingOn?.(series);
  return why === undefined ? undefined : `not available on RabbitMQ ${series}: ${why}`;
}
