/**
 * A stand-in for an oslo.messaging RPC server (nova-compute, neutron-l3-agent, …), run as its own process so that
 * it can be killed hard (SIGKILL) the way a crashed service dies, which is what leaves zombie fanout queues.
 * It lays out what oslo lays out for one server of `<topic>` on `<host>`, in the oslo layout given (oslo-layout.ts):
 * - the control exchange (topic) with the shared `<topic>` queue and the server's `<topic>.<host>`,
 * - the fanout exchange `<topic>_fanout` and its fanout queue: its own `<topic>_fanout_<uuid hex>` (classic), or the
 *   topic's stream `<topic>_fanout`, read from the last offset (kolla),
 * - in kolla also its reply queue `reply_<host>:<service>:1`, as every OpenStack server is an RPC client too,
 * one connection named `<service>:<pid>:<uuid>` like oslo's, consumes them all, and answers calls (messages
 * with `reply_to`) on the default exchange. It prints `{"fanout": …, "reply": …}` on its first line, then waits.
 * With `fanout-only` as sixth argument it lays out only the fanout queue (what the zombie tests need, leaving no
 * other queue behind on a shared cluster).
 * Usage: rpc-server-process.ts <topic> [host] [service] [control exchange] [full|fanout-only] [classic|kolla],
 * with the AMQP URL in WARREN_RPC_SERVER_AMQP_URL (it holds the password, so it stays off the command line).
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { exchangesDurable, fanoutQueue, isOsloLayout, QueueManager, replyQueue, rpcQueue } from './oslo-layout.js';

const url = process.env.WARREN_RPC_SERVER_AMQP_URL;
const [topic, host = 'host-1', service = topic, exchange = 'openstack', layout = 'full', oslo = 'classic'] =
  process.argv.slice(2);
if (!url || !topic || !isOsloLayout(oslo)) {
  process.stderr.write(
    'usage: WARREN_RPC_SERVER_AMQP_URL=<amqp url> rpc-server-process.ts <topic> [host] [service] [control exchange] [full|fanout-only] [classic|kolla]\n',
  );
  process.exit(64);
}
const connection = await connect(url, {
  clientProperties: { connection_name: `${service}:${process.pid}:${randomUUID()}` },
});
connection.on('error', () => undefined);
// Its node went away: exit, and let whoever runs it restart it (oslo would reconnect: under a new fanout queue in
// the classic layout, under the same names with the queue manager).
connection.on('close', () => process.exit(1));
const channel = await connection.createChannel();
const durable = exchangesDurable(oslo);

/**
 * Declares an exchange unless it exists already, whatever its flags: on a shared cluster another client may have
 * declared it otherwise (oslo 16 in quorum mode declares `openstack` durable, and a transient one vanishes when the
 * whole cluster stops), and a redeclaration with other flags would fail with 406. A stand-in does not care which.
 */
async function ensureExchange(name: string, type: string, options: { durable: boolean; autoDelete?: boolean }) {
  const probe = await connection.createChannel();
  // The broker closes the probe's channel when the exchange does not exist (404): that is the answer, not an error.
  probe.on('error', () => undefined);
  const exists = await probe.checkExchange(name).then(
    () => true,
    () => false,
  );
  if (exists) await probe.close();
  else await channel.assertExchange(name, type, options);
}

// fanout-only binds nothing to the control exchange: it is not declared then.
if (layout !== 'fanout-only') await ensureExchange(exchange, 'topic', { durable });
const fanout = `${topic}_fanout`;
await ensureExchange(fanout, 'fanout', { durable, autoDelete: true });
const fanoutLayout = { ...fanoutQueue(oslo, topic), key: '', source: fanout };
// A stream is consumed with a prefetch (oslo refuses stream fanout without rabbit_qos_prefetch_count).
if (fanoutLayout.stream) await channel.prefetch(100);
const reply =
  oslo === 'kolla' && layout !== 'fanout-only' ? replyQueue(oslo, new QueueManager(host, service)) : undefined;
const queues =
  layout === 'fanout-only'
    ? [fanoutLayout]
    : [
        { ...rpcQueue(oslo, topic), key: topic, source: exchange },
        { ...rpcQueue(oslo, `${topic}.${host}`), key: `${topic}.${host}`, source: exchange },
        fanoutLayout,
        ...(reply ? [{ ...reply, key: '', source: '' }] : []),
      ];
for (const { name, options, stream, key, source } of queues) {
  await channel.assertQueue(name, options);
  if (source) await channel.bindQueue(name, source, key);
  // A stream server reads from the newest message on, as oslo's first consume does.
  const consume = stream ? { arguments: { 'x-stream-offset': 'last' } } : {};
  await channel.consume(
    name,
    (message) => {
      if (!message) return;
      const { replyTo, correlationId } = message.properties;
      if (replyTo) {
        channel.publish('', replyTo, Buffer.from(JSON.stringify({ result: 'ok', failure: null, ending: true })), {
          correlationId,
        });
      }
      channel.ack(message);
    },
    consume,
  );
}
process.stdout.write(`${JSON.stringify({ fanout: fanoutLayout.name, reply: reply?.name })}\n`);
// Stays up until killed.
setInterval(() => undefined, 60_000);
