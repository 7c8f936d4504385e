/** Environment that points warren at the test run's local stack, as an operator would with RABBITMQ_URL. */
import type { LocalStackDescription } from '../../src/devstack/index.js';

export function stackEnv(stack: LocalStackDescription): Record<string, string> {
  return {
    RABBITMQ_URL: stack.nodes.map((n) => n.amqpUrl).join(','),
    RABBITMQ_MANAGEMENT_URL: stack.nodes.map((n) => n.managementUrl).join(','),
    // The stack has one administrator user: it serves for remediation too (a real cluster gives it a user of its own).
    RABBITMQ_REMEDIATION_USER: stack.username,
    RABBITMQ_REMEDIATION_PASSWORD: stack.password,
    REDIS_URL: stack.redisUrl,
    PORT: '0',
  };
}

/** clusters[].nodeControl.command for the stack: its own series' rabbitmqctl (a chroot's on RabbitMQ 4.0). */
export function nodeControlCommand(stack: LocalStackDescription): string[] {
  return [...stack.rabbitmq.rabbitmqctl, '-n', '{node}', '{action}'];
}
