/**
 * A stand-in for an oslo.messaging RPC server (nova-compute, neutron-l3-agent, …), run as its own process so that
 * it can be killed hard (SIGKILL) the way a crashed service dies, which is what leaves zombie fanout queues.
 * It lays out what oslo lays out for one server of `<topic>` on `<host>`:
 * - the control exchange (topic, non-durable) with the shared `<topic>` queue and the server's `<topic>.<host>`,
 * - the fanout exchange `<topic>_fanout` and its own `<topic>_fanout_<uuid hex>` queue (non-durable, x-expires
 *   30 min, as `rabbit_transient_queues_ttl` sets it),
 * one connection named `<service>:<pid>:<uuid>` like oslo's, consumes all three, and answers calls (messages
 * with `reply_to`) on the default exchange. It prints the fanout queue's name on its first line, then waits.
 * With `fanout-only` as sixth argument it lays out only the fanout queue (what the zombie tests need, leaving no
 * other queue behind on a shared cluster).
 * Usage: rpc-server-process.ts <amqp url> <topic> [host] [service] [control exchange] [full|fanout-only]
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';

const [url, topic, host = 'host-1', service = topic, exchange = 'openstack', layout = 'full'] = process.argv.slice(2);
if (!url || !topic) {
  process.stderr.write('usage: rpc-server-process.ts <amqp url> <topic> [host] [service] [control exchange]\n');
  process.exit(64);
}
const connection = await connect(url, {
  clientProperties: { connection_name: `${service}:${process.pid}:${randomUUID()}` },
});
connection.on('error', () => undefined);
// Its node went away: exit, and let whoever runs it restart it (oslo would reconnect under a new fanout queue).
connection.on('close', () => process.exit(1));
const channel = await connection.createChannel();
await channel.assertExchange(exchange, 'topic', { durable: false });
const fanout = `${topic}_fanout`;
await channel.assertExchange(fanout, 'fanout', { durable: false, autoDelete: true });
const fanoutQueue = { name: `${fanout}_${randomUUID().replace(/-/g, '')}`, key: '', source: fanout };
const queues =
  layout === 'fanout-only'
    ? [fanoutQueue]
    : [
        { name: topic, key: topic, source: exchange },
        { name: `${topic}.${host}`, key: `${topic}.${host}`, source: exchange },
        fanoutQueue,
      ];
for (const { name, key, source } of queues) {
  await channel.assertQueue(name, { durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
  await channel.bindQueue(name, source, key);
  await channel.consume(name, (message) => {
    if (!message) return;
    const { replyTo, correlationId } = message.properties;
    if (replyTo) {
      channel.publish('', replyTo, Buffer.from(JSON.stringify({ result: 'ok', failure: null, ending: true })), {
        correlationId,
      });
    }
    channel.ack(message);
  });
}
process.stdout.write(`${fanoutQueue.name}\n`);
// Stays up until killed.
setInterval(() => undefined, 60_000);
