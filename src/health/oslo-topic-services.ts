/**
 * Which OpenStack traffic a queue carries, from its name alone: RPC (an oslo server's `<topic>` or
 * `<topic>.<server>` queue, a fanout or reply queue), notifications, or something else; and the OpenStack service
 * behind a well-known RPC topic (`compute` → nova-compute, `l3_agent` → neutron-l3-agent). A guess from names: an
 * unknown topic is "other", never invented. Pure.
 */
import { parseOsloQueueName } from './oslo-queue-names.js';

export type QueueTraffic = 'rpc' | 'notifications' | 'other';

/** RPC topics of the main OpenStack services (oslo `topic`, as servers declare their queues). */
const TOPIC_SERVICES: Readonly<Record<string, string>> = {
  compute: 'nova-compute',
  conductor: 'nova-conductor',
  scheduler: 'nova-scheduler',
  'cinder-scheduler': 'cinder-scheduler',
  'cinder-volume': 'cinder-volume',
  'cinder-backup': 'cinder-backup',
  'q-plugin': 'neutron-server',
  'q-l3-plugin': 'neutron-server',
  'q-reports-plugin': 'neutron-server',
  'q-server-resource-versions': 'neutron-server',
  l3_agent: 'neutron-l3-agent',
  dhcp_agent: 'neutron-dhcp-agent',
  metering_agent: 'neutron-metering-agent',
  engine: 'heat-engine',
  'heat-engine-listener': 'heat-engine',
  central: 'designate-central',
  'manila-share': 'manila-share',
  'manila-scheduler': 'manila-scheduler',
  'magnum-conductor': 'magnum-conductor',
  'ironic.conductor_manager': 'ironic-conductor',
  octavia_prov: 'octavia',
};

function topicService(topic: string): string | undefined {
  if (topic in TOPIC_SERVICES) return TOPIC_SERVICES[topic];
  // neutron's agent notifier topics: q-agent-notifier-<resource>-<event>
  if (topic.startsWith('q-agent-notifier-')) return 'neutron agents';
  return undefined;
}

/** What a queue's name says about its traffic, with the service where a known topic names it. */
export function queueTraffic(name: string): { traffic: QueueTraffic; service?: string } {
  const parsed = parseOsloQueueName(name);
  if (parsed?.kind === 'notifications') return { traffic: 'notifications' };
  if (parsed?.kind === 'reply') return { traffic: 'rpc' };
  const topic = parsed?.kind === 'fanout' ? parsed.topic : name.endsWith('_fanout') ? name.slice(0, -7) : name;
  // `<topic>.<server>`: the longest known topic that the name starts with (ironic's topic holds a dot itself).
  const service =
    topicService(topic) ??
    Object.keys(TOPIC_SERVICES)
      .filter((t) => topic.startsWith(`${t}.`))
      .sort((a, b) => b.length - a.length)
      .map((t) => TOPIC_SERVICES[t])[0] ??
    (topic.startsWith('q-agent-notifier-') ? 'neutron agents' : undefined);
  if (service) return { traffic: 'rpc', service };
  return { traffic: parsed?.kind === 'fanout' ? 'rpc' : 'other' };
}
