/** Environment that points warren at the test run's local stack, as an operator would with RABBITMQ_URL. */
import type { LocalStackDescription } from '../../src/devstack/index.js';

export function stackEnv(stack: LocalStackDescription): Record<string, string> {
  return {
    RABBITMQ_URL: stack.nodes.map((n) => n.amqpUrl).join(','),
    RABBITMQ_MANAGEMENT_URL: stack.nodes.map((n) => n.managementUrl).join(','),
    REDIS_URL: stack.redisUrl,
    PORT: '0',
  };
}
