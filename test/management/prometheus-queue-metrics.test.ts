import { describe, expect, it } from 'vitest';
import { QueueMetricsError } from '../../src/errors.js';
import { parseQueueMetrics } from '../../src/management/prometheus-queue-metrics.js';

// The shape of a 3.10.8 node's answer to /metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count
// &family=identity_info (captured from the local cluster, trimmed).
const ANSWER = `# TYPE rabbitmq_detailed_queue_messages_ready gauge
# HELP rabbitmq_detailed_queue_messages_ready Messages ready to be delivered to consumers
rabbitmq_detailed_queue_messages_ready{vhost="/",queue="qq1"} 5
rabbitmq_detailed_queue_messages_ready{vhost="/",queue="cq1"} 0
# TYPE rabbitmq_detailed_queue_messages_unacked gauge
rabbitmq_detailed_queue_messages_unacked{vhost="/",queue="qq1"} 0
rabbitmq_detailed_queue_messages_unacked{vhost="/",queue="cq1"} 3
# TYPE rabbitmq_detailed_queue_messages gauge
rabbitmq_detailed_queue_messages{vhost="/",queue="qq1"} 5
rabbitmq_detailed_queue_messages{vhost="/",queue="cq1"} 3
# TYPE rabbitmq_detailed_queue_process_reductions_total counter
rabbitmq_detailed_queue_process_reductions_total{vhost="/",queue="qq1"} 26482
# TYPE rabbitmq_detailed_queue_consumers gauge
rabbitmq_detailed_queue_consumers{vhost="/",queue="qq1"} 0
rabbitmq_detailed_queue_consumers{vhost="/",queue="cq1"} 1
# TYPE rabbitmq_build_info untyped
rabbitmq_build_info{rabbitmq_version="3.10.8",prometheus_plugin_version="3.10.8",erlang_version="25.2.3"} 1
# TYPE rabbitmq_identity_info untyped
rabbitmq_identity_info{rabbitmq_node="rabbit1@localhost",rabbitmq_cluster="rabbit1@vm",rabbitmq_cluster_permanent_id="rabbitmq-cluster-id-8uXxD9x7Fxo1X7a0RyTl1g"} 1
`;

describe('parseQueueMetrics', () => {
  it('reads the node and each queue depth and consumer count', () => {
    const { node, queues } = parseQueueMetrics(ANSWER);
    expect(node).toBe('rabbit1@localhost');
    expect(queues.get('/')?.get('qq1')).toEqual({
      messages: 5,
      messages_ready: 5,
      messages_unacknowledged: 0,
      consumers: 0,
    });
    expect(queues.get('/')?.get('cq1')).toEqual({
      messages: 3,
      messages_ready: 0,
      messages_unacknowledged: 3,
      consumers: 1,
    });
    expect(queues.get('/')?.size).toBe(2);
  });

  it('reads escaped label values, other vhosts and samples with a timestamp', () => {
    const text = [
      String.raw`rabbitmq_detailed_queue_messages{vhost="nova",queue="a \"quoted\" q\\ueue"} 7 1764640000000`,
      String.raw`rabbitmq_detailed_queue_messages{vhost="/",queue="line\nbreak"} 2`,
      'rabbitmq_identity_info{rabbitmq_node="rabbit2@h"} 1',
    ].join('\n');
    const { node, queues } = parseQueueMetrics(text);
    expect(node).toBe('rabbit2@h');
    expect(queues.get('nova')?.get('a "quoted" q\\ueue')?.messages).toBe(7);
    expect(queues.get('/')?.get('line\nbreak')?.messages).toBe(2);
  });

  it('has no node when the answer lacks identity_info', () => {
    expect(parseQueueMetrics('rabbitmq_detailed_queue_messages{vhost="/",queue="q"} 1\n').node).toBeUndefined();
  });

  it.each([
    ['an unterminated value', 'rabbitmq_detailed_queue_messages{vhost="/",queue="q} 1'],
    ['a sample without a queue', 'rabbitmq_detailed_queue_messages{vhost="/"} 1'],
    ['a value that is not a number', 'rabbitmq_detailed_queue_messages{vhost="/",queue="q"} many'],
  ])('refuses %s, quoting the line', (_, line) => {
    expect(() => parseQueueMetrics(line)).toThrow(QueueMetricsError);
    expect(() => parseQueueMetrics(line)).toThrow(/rabbitmq_detailed_queue_messages\{vhost=/);
  });
});
