/**
 * The load of bench/health, in a child process so that the bench's RSS figure is warren's alone (1,000 amqplib
 * connections and 30,000 queue declarations would otherwise be counted as the sweep's memory).
 *
 * It grows an OpenStack-like cluster step by step on the parent's request (IPC):
 * - queues: mostly plain `<topic>.<host>` ones, one in ten `<topic>_fanout_<32 hex>` and one in ten
 *   `reply_<32 hex>`, both with x-expires like oslo.messaging's, a few fanout queues without it (zombies), about 1 %
 *   holding a few messages and 3 in 10,000 a backlog; declared on several channels per node at once, spread over
 *   the nodes (classic queues live on the node of the declaring connection);
 * - 1,000 connections named like oslo's (`nova-compute:<pid>:<uuid>`), spread over the nodes, one channel each,
 *   which consume most queues (oslo consumes every topic, fanout and reply queue of a service on that channel).
 * The parent waits for the management API to show the counts; this process only declares, publishes and consumes.
 */
import { randomUUID } from 'node:crypto';
import { type Channel, type ChannelModel, connect } from 'amqplib';

export type LoadRequest = { type: 'grow'; queues: number; connections: number } | { type: 'close' };

export type LoadReply =
  | { type: 'grown'; queues: number; connections: number; consumers: number; messages: number; seconds: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const amqpUrls = JSON.parse(process.env.BENCH_AMQP_URLS ?? '[]') as string[];
const DECLARE_CHANNELS_PER_NODE = 4;
const X_EXPIRES_MS = 1_800_000;
const TOPICS = ['compute', 'conductor', 'scheduler', 'cinder-volume', 'q-plugin', 'q-l3-plugin', 'dhcp_agent'];
const FANOUT_TOPICS = ['q-agent-notifier-port-update', 'q-agent-notifier-security_group-update', 'compute', 'l3_agent'];
const SERVICES = ['nova-compute', 'neutron-openvswitch-agent', 'nova-conductor', 'cinder-volume', 'neutron-server'];

interface QueueSpec {
  name: string;
  args: Record<string, unknown>;
  autoDelete: boolean;
  messages: number;
  consumed: boolean;
}

const hex = (): string => randomUUID().replace(/-/g, '');

/** The i-th queue of the mix; deterministic in kind, random in its oslo suffix. */
function queueSpec(i: number): QueueSpec {
  const host = `cmp-${String(i).padStart(5, '0')}.dc1`;
  const messages =
    i % 10_000 === 7 || i % 10_000 === 5007 || i % 10_000 === 9007 ? 700 : i % 97 === 3 ? 1 + (i % 9) : 0;
  const consumed = messages === 0 && i % 5 !== 0;
  if (i % 10 === 1) {
    const zombie = i % 1000 === 11;
    return {
      name: `${FANOUT_TOPICS[i % FANOUT_TOPICS.length]}_fanout_${hex()}`,
      args: zombie ? {} : { 'x-expires': X_EXPIRES_MS },
      autoDelete: !zombie,
      messages,
      consumed: consumed && !zombie,
    };
  }
  if (i % 10 === 2) {
    return { name: `reply_${hex()}`, args: { 'x-expires': X_EXPIRES_MS }, autoDelete: true, messages, consumed };
  }
  return { name: `${TOPICS[i % TOPICS.length]}.${host}`, args: {}, autoDelete: false, messages, consumed };
}

const connections: { model: ChannelModel; channel: Channel }[] = [];
let queueCount = 0;
let consumerCount = 0;
let messageCount = 0;

function send(reply: LoadReply): void {
  process.send?.(reply);
}

/** Opens the oslo-like connections, `batch` handshakes at a time, round-robin over the nodes. */
async function openConnections(target: number): Promise<void> {
  const batch = 50;
  while (connections.length < target) {
    const start = connections.length;
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, target - start) }, async (_, j) => {
        const k = start + j;
        const service = SERVICES[k % SERVICES.length] as string;
        const model = await connect(amqpUrls[k % amqpUrls.length] as string, {
          clientProperties: { connection_name: `${service}:${10_000 + k}:${randomUUID()}`, product: 'py-amqp' },
        });
        model.on('error', () => undefined);
        const channel = await model.createChannel();
        channel.on('error', () => undefined);
        return { model, channel };
      }),
    );
    connections.push(...opened);
  }
}

/** Declares queues [queueCount, target), publishes their messages and has the connections consume them. */
async function growQueues(target: number): Promise<void> {
  const admins = await Promise.all(amqpUrls.map((url) => connect(url)));
  try {
    const channels: Channel[][] = await Promise.all(
      admins.map((a) => Promise.all(Array.from({ length: DECLARE_CHANNELS_PER_NODE }, () => a.createChannel()))),
    );
    const pending: Promise<unknown>[] = [];
    const specs: QueueSpec[] = [];
    for (let i = queueCount; i < target; i++) {
      const spec = queueSpec(i);
      specs.push(spec);
      const node = i % amqpUrls.length;
      const channel = channels[node]?.[Math.floor(i / amqpUrls.length) % DECLARE_CHANNELS_PER_NODE] as Channel;
      // amqplib queues the RPCs of a channel and sends each as the previous is answered: no await per queue.
      pending.push(
        channel
          .assertQueue(spec.name, { durable: false, autoDelete: spec.autoDelete, arguments: spec.args })
          .then(() => {
            for (let m = 0; m < spec.messages; m++) channel.sendToQueue(spec.name, Buffer.from(`{"n":${m}}`));
          }),
      );
      // Bounded in flight, so the declarations of 20,000 queues do not all sit in memory at once.
      if (pending.length >= 2000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const consumes: Promise<unknown>[] = [];
    specs.forEach((spec, j) => {
      messageCount += spec.messages;
      if (!spec.consumed || connections.length === 0) return;
      const { channel } = connections[(queueCount + j) % connections.length] as { channel: Channel };
      consumes.push(channel.consume(spec.name, () => undefined));
      consumerCount++;
    });
    await Promise.all(consumes);
    queueCount = target;
  } finally {
    // Closing after the publishes: the broker handles a channel's frames in order, so none is lost.
    await Promise.all(admins.map((a) => a.close().catch(() => undefined)));
  }
}

process.on('message', (request: LoadRequest) => {
  void (async () => {
    try {
      if (request.type === 'close') {
        await Promise.all(connections.map((c) => c.model.close().catch(() => undefined)));
        connections.length = 0;
        send({ type: 'closed' });
        return;
      }
      const started = performance.now();
      // Connections first, so that every queue is consumed as soon as it is declared.
      await openConnections(request.connections);
      await growQueues(request.queues);
      send({
        type: 'grown',
        queues: queueCount,
        connections: connections.length,
        consumers: consumerCount,
        messages: messageCount,
        seconds: (performance.now() - started) / 1000,
      });
    } catch (error) {
      send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  })();
});

// The parent going away (normally or not) ends the load: its connections close with the process.
process.on('disconnect', () => process.exit(0));
