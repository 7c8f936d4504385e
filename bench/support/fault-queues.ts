/** Broker state the benches inject for warren's health checks to find, the way OpenStack leaves it. */
import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';

/**
 * A dead nova-compute's fanout queue: no consumer, 20 messages piling up, an expiry (2 h) longer than the zombie
 * check's 1 h limit. With an expiry at all, policy-coverage (which wants one) stays quiet: one fault, one alert.
 * Resolves with the queue's name once the broker has confirmed its messages.
 */
export async function declareZombieFanoutQueue(channel: ConfirmChannel): Promise<string> {
  const queue = `compute_fanout_${randomUUID().replace(/-/g, '')}`;
  await channel.assertExchange('compute_fanout', 'fanout', { durable: false });
  await channel.assertQueue(queue, { durable: false, autoDelete: false, arguments: { 'x-expires': 7_200_000 } });
  await channel.bindQueue(queue, 'compute_fanout', '');
  for (let i = 0; i < 20; i++) channel.publish('compute_fanout', '', Buffer.from('{"method":"ping"}'));
  await channel.waitForConfirms();
  return queue;
}
