/**
 * A stand-in for an oslo RPC server, run as its own process so a test can kill it hard (SIGKILL) as a crashed
 * nova-compute would die: it declares the fanout exchange `<topic>_fanout` and its own `<topic>_fanout_<uuid hex>`
 * queue as oslo does (non-durable, `x-expires` 30 min), consumes from it, prints the queue name and waits.
 * Usage: tsx rpc-server-process.ts <amqp url> <topic>
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';

const [url, topic] = process.argv.slice(2);
if (!url || !topic) {
  process.stderr.write('usage: rpc-server-process.ts <amqp url> <topic>\n');
  process.exit(64);
}
const connection = await connect(url, {
  clientProperties: { connection_name: `${topic}:${process.pid}:${randomUUID()}` },
});
const channel = await connection.createChannel();
const exchange = `${topic}_fanout`;
await channel.assertExchange(exchange, 'fanout', { durable: false, autoDelete: true });
const queue = `${topic}_fanout_${randomUUID().replace(/-/g, '')}`;
await channel.assertQueue(queue, { durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
await channel.bindQueue(queue, exchange, '');
await channel.consume(queue, (message) => {
  if (message) channel.ack(message);
});
process.stdout.write(`${queue}\n`);
// Stays up until killed.
setInterval(() => undefined, 60_000);
