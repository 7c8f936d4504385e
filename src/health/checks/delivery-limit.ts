/**
 * Messages dropped past a quorum queue's delivery limit (RabbitMQ 4.0 gives every quorum queue a default limit of
 * 20): a message returned to the queue more often than that is dropped, or dead-lettered when the queue has a
 * dead-letter exchange. Without one it is gone: an RPC request or a notification lost without a trace, typically
 * because a consumer keeps failing on it and requeues it. The broker counts such drops only per node, in its
 * Prometheus plugin (`rabbitmq_global_messages_dead_lettered_delivery_limit_total{dead_letter_strategy="disabled"}`,
 * on the node leading the queue); no per-queue drop count exists. So the check judges the node counter's increase
 * since the last sweep and pins it on the quorum queues led there that have no dead-letter exchange and whose
 * redeliveries rose in the same interval. Drops it cannot pin are reported on the node. Judges only.
 */

import { formatCount } from '../../chat/human-format.js';
import { nameInVhost } from '../../chat/vhost-text.js';
import { defaultQuorumDeliveryLimit } from '../../management/broker-version.js';
import type { ClusterSnapshot, PolicyInfo, QueueInfo } from '../cluster-snapshot.js';
import { queueKey } from '../cluster-snapshot.js';
import { counterIncrease, counterKey } from '../drop-counters.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';
import { fanoutTopic, parseOsloQueueName } from '../oslo-queue-names.js';

const ID = 'delivery-limit';

/** The effective policy's definition of a queue (its `policy` names it), or an empty one. */
export function policyDefinition(
  queue: QueueInfo,
  policies: readonly PolicyInfo[] | undefined,
): Record<string, unknown> {
  if (!queue.policy) return {};
  return policies?.find((p) => p.vhost === queue.vhost && p.name === queue.policy)?.definition ?? {};
}

function hasDeadLetterExchange(queue: QueueInfo, policies: readonly PolicyInfo[] | undefined): boolean {
  return (
    typeof queue.arguments?.['x-dead-letter-exchange'] === 'string' ||
    typeof policyDefinition(queue, policies)['dead-letter-exchange'] === 'string'
  );
}

/** The queue's own limit (argument, else policy), else the version's default; undefined: no limit. */
function deliveryLimit(queue: QueueInfo, policies: readonly PolicyInfo[] | undefined, context: CheckContext) {
  const own = queue.arguments?.['x-delivery-limit'] ?? policyDefinition(queue, policies)['delivery-limit'];
  if (typeof own === 'number') return own < 0 ? undefined : own;
  return context.version ? defaultQuorumDeliveryLimit(context.version) : undefined;
}

/** Who consumes an oslo queue, from its name: the topic, and the server or host:process where the name tells. */
export function osloConsumerOf(name: string, topics: ReadonlySet<string>): string | undefined {
  const parsed = parseOsloQueueName(name);
  if (parsed?.kind === 'fanout' || parsed?.kind === 'reply') {
    const who = parsed.host ? ` of \`${parsed.host}\`${parsed.process ? ` (\`${parsed.process}\`)` : ''}` : '';
    return parsed.kind === 'fanout' ? `the \`${parsed.topic}\` RPC servers${who}` : `an RPC caller${who}`;
  }
  if (parsed?.kind === 'notifications') return `the consumers of ${parsed.topic} (e.g. Ceilometer)`;
  const topic = rpcTopicOf(name, topics);
  if (topic === undefined) return undefined;
  return name === topic
    ? `the \`${topic}\` RPC servers`
    : `the \`${topic}\` RPC server \`${name.slice(topic.length + 1)}\``;
}

/**
 * The RPC topic a queue serves by its name: the topic itself (`compute`) or a server's queue under it
 * (`compute.host-1`), the longest such topic when topics nest. Looked up by the name's prefixes, not by walking the
 * topics: the sweep asks this of every queue, and a cluster can have thousands of topics.
 */
export function rpcTopicOf(name: string, topics: ReadonlySet<string>): string | undefined {
  if (topics.has(name)) return name;
  for (let dot = name.lastIndexOf('.'); dot > 0; dot = name.lastIndexOf('.', dot - 1)) {
    const prefix = name.slice(0, dot);
    if (topics.has(prefix)) return prefix;
  }
  return undefined;
}

/** The RPC topics present: those with a fanout queue or stream. */
export function rpcTopics(queues: readonly QueueInfo[]): Set<string> {
  const topics = new Set<string>();
  for (const q of queues) {
    const topic =
      fanoutTopic(q.name) ?? (q.type === 'stream' && q.name.endsWith('_fanout') ? q.name.slice(0, -7) : undefined);
    if (topic) topics.add(topic);
  }
  return topics;
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  const queues = snapshot.queues ?? [];
  const findings: Finding[] = [];
  const topics = rpcTopics(queues);
  for (const node of snapshot.nodeCounters ?? []) {
    const dropped = counterIncrease(counterKey.deliveryLimit(node.node), node.deliveryLimitDropped, context.counters);
    if (dropped === 0) continue;
    const redelivered = new Map(node.queuesRedelivered.map((q) => [queueKey(q), q.value]));
    const suspects = queues.flatMap((q) => {
      if (q.type !== 'quorum' || (q.leader ?? q.node) !== node.node) return [];
      if (hasDeadLetterExchange(q, snapshot.policies)) return [];
      const limit = deliveryLimit(q, snapshot.policies, context);
      if (limit === undefined) return [];
      const rose = counterIncrease(
        counterKey.redelivered(node.node, q.vhost, q.name),
        redelivered.get(queueKey(q)) ?? 0,
        context.counters,
      );
      return rose > 0 ? [{ queue: q, limit, rose }] : [];
    });
    const onNode = `${formatCount(dropped)} message(s) dropped past a delivery limit on \`${node.node}\` since the last sweep`;
    if (suspects.length === 0) {
      findings.push({
        check: ID,
        severity: 'warning',
        subject: `node:${node.node}`,
        summary: `${onNode}, by a quorum queue without a dead-letter exchange`,
        details: [
          'No quorum queue led there without a dead-letter exchange redelivered in the interval: look for the queue by its redeliveries',
        ],
        data: { node: node.node, dropped },
      });
      continue;
    }
    for (const { queue, limit, rose } of suspects) {
      const consumer = osloConsumerOf(queue.name, topics);
      findings.push({
        check: ID,
        severity: 'warning',
        subject: queueKey(queue),
        summary: `${nameInVhost(queue.name, queue.vhost)} drops messages redelivered more than ${limit} times: it has no dead-letter exchange`,
        details: [
          `${onNode}; this queue redelivered ${formatCount(rose)} time(s) in that interval${suspects.length > 1 ? ` (one of ${suspects.length} such queues there)` : ''}`,
          `Consumers: ${formatCount(queue.consumers)}${consumer ? `, ${consumer}` : ''}`,
          `Vhost \`${queue.vhost}\`, leader \`${node.node}\``,
        ],
        data: {
          vhost: queue.vhost,
          name: queue.name,
          node: node.node,
          deliveryLimit: limit,
          droppedOnNode: dropped,
          redelivered: rose,
          consumers: queue.consumers,
          consumer: consumer ?? null,
        },
      });
    }
  }
  return findings.sort((a, b) => a.subject.localeCompare(b.subject));
}

export const deliveryLimitCheck = defineCheck({
  id: ID,
  title: 'Messages dropped past the delivery limit',
  hint:
    'A consumer keeps failing on these messages and returning them: find why in its service log (the consumer ' +
    'named). To keep what is dropped, give the queues a dead-letter exchange with a delivery limit ' +
    '(`fix apply-policy delivery-limit --dlx EXCHANGE --pattern …`); a limit is no fix for a consumer that cannot handle a message.',
  needs: ['queues', 'nodeCounters'],
  evaluate,
});
