/**
 * The demo's small OpenStack cloud, on the wire: RPC servers for a few services (each its own process, so one can
 * be killed hard), an API service calling them and casting to their fanout exchanges, and notifications in both
 * envelope versions on the `nova`, `neutron` and `openstack` exchanges: mostly INFO, some ERROR. Every connection is
 * named as oslo names it (`<service>:<pid>:<uuid>`), so warren's views by service work on it as on a real cloud.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { type NotificationKind, notification } from './oslo-notifications.js';
import { startRpcServer } from './rpc-server.js';

export interface RpcServerSpec {
  topic: string;
  host: string;
  service: string;
  exchange: string;
}

interface RunningServer extends RpcServerSpec {
  child: ChildProcess;
  fanoutQueue: string;
}

export interface SimulatorOptions {
  /** One AMQP URL per node; services are spread over them as a cloud's are. */
  amqpUrls: string[];
  /** Notifications per second, all exchanges together. */
  rate?: number;
  /** Share of the notifications that are errors. */
  errorShare?: number;
  log?: (line: string) => void;
}

export const DEMO_SERVERS: readonly RpcServerSpec[] = [
  { topic: 'compute', host: 'cmp-01', service: 'nova-compute', exchange: 'nova' },
  { topic: 'compute', host: 'cmp-02', service: 'nova-compute', exchange: 'nova' },
  { topic: 'conductor', host: 'ctl-01', service: 'nova-conductor', exchange: 'nova' },
  { topic: 'l3_agent', host: 'net-01', service: 'neutron-l3-agent', exchange: 'neutron' },
  { topic: 'cinder-volume', host: 'stor-01', service: 'cinder-volume', exchange: 'openstack' },
];

const INFO_KINDS: NotificationKind[] = [
  'nova.instance.create.end',
  'neutron.port.create.end',
  'nova.versioned.service.update',
];
const ERROR_KINDS: NotificationKind[] = [
  'nova.instance.create.error',
  'nova.versioned.instance.create.error',
  'cinder.volume.attach.error',
];
const HOSTS = ['cmp-01', 'cmp-02', 'cmp-03'];
const RPC_INTERVAL_MS = 1_000;

const pick = <T>(items: readonly T[], n: number): T => items[n % items.length] as T;

export class TrafficSimulator {
  private readonly servers: RunningServer[] = [];
  private readonly connections: ChannelModel[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private publisher?: ConfirmChannel;
  private replyQueue = '';
  private blocked = false;
  private sent = 0;
  private stopped = false;

  constructor(private readonly options: SimulatorOptions) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  private url(i: number): string {
    return pick(this.options.amqpUrls, i);
  }

  /** How many notifications went out so far. */
  get notificationsSent(): number {
    return this.sent;
  }

  async start(): Promise<void> {
    for (const [i, spec] of DEMO_SERVERS.entries()) await this.startServer(spec, i);
    await this.startApiClient();
    await this.startNotifier();
    this.log(
      `simulator: ${this.servers.length} RPC servers (${[...new Set(DEMO_SERVERS.map((s) => s.service))].join(', ')}), ` +
        `an API client, ${this.options.rate ?? 20} notifications/s on nova, neutron, openstack`,
    );
  }

  private async startServer(spec: RpcServerSpec, i: number): Promise<RunningServer> {
    const { child, queue } = await startRpcServer(this.url(i), spec.topic, spec);
    const server = { ...spec, child, fanoutQueue: queue };
    this.servers.push(server);
    return server;
  }

  private async connection(service: string, i: number, heartbeat?: number): Promise<ChannelModel> {
    const connection = await connect(heartbeat === undefined ? this.url(i) : `${this.url(i)}?heartbeat=${heartbeat}`, {
      clientProperties: { connection_name: `${service}:${process.pid}:${randomUUID()}` },
    });
    // The demo breaks the cluster on purpose; a connection that drops is simply gone.
    connection.on('error', () => undefined);
    connection.on('blocked', () => {
      this.blocked = true;
    });
    connection.on('unblocked', () => {
      this.blocked = false;
    });
    this.connections.push(connection);
    return connection;
  }

  /** nova-api: calls one compute host at a time and casts to the compute fanout, as the scheduler does. */
  private async startApiClient(): Promise<void> {
    const connection = await this.connection('nova-api', 0);
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    this.replyQueue = `reply_${randomUUID().replace(/-/g, '')}`;
    await channel.assertQueue(this.replyQueue, {
      durable: false,
      autoDelete: true,
      arguments: { 'x-expires': 1_800_000 },
    });
    await channel.consume(this.replyQueue, () => undefined, { noAck: true });
    let n = 0;
    this.timers.push(
      setInterval(() => {
        if (this.blocked || this.stopped) return;
        n++;
        const body = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': '{"method":"ping"}' }));
        channel.publish('nova', `compute.${pick(['cmp-01', 'cmp-02'], n)}`, body, {
          replyTo: this.replyQueue,
          correlationId: randomUUID(),
        });
        channel.publish('compute_fanout', '', body);
      }, RPC_INTERVAL_MS),
    );
  }

  private async startNotifier(): Promise<void> {
    const connection = await this.connection('nova-conductor', 1);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    for (const exchange of ['nova', 'neutron', 'openstack']) {
      await channel.assertExchange(exchange, 'topic', { durable: false });
    }
    this.publisher = channel;
    const rate = this.options.rate ?? 20;
    const errorEvery = Math.max(1, Math.round(1 / (this.options.errorShare ?? 0.02)));
    const tickMs = 100;
    let owed = 0;
    this.timers.push(
      setInterval(() => {
        if (this.blocked || this.stopped) return;
        owed += (rate * tickMs) / 1000;
        for (; owed >= 1; owed--) {
          this.sent++;
          const kinds = this.sent % errorEvery === 0 ? ERROR_KINDS : INFO_KINDS;
          const wire = notification(
            pick(kinds, Math.floor(this.sent / errorEvery)),
            pick(HOSTS, this.sent),
            this.sent % 3 === 0 ? 1 : 2,
            this.sent,
          );
          channel.publish(wire.exchange, wire.routingKey, wire.body, { contentType: 'application/json' });
        }
      }, tickMs),
    );
  }

  /** Publishes `count` notifications at once (e.g. to fill a queue), resolving when the broker confirmed them. */
  async burst(kind: NotificationKind, count: number): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new Error('the simulator is not started');
    for (let i = 0; i < count; i++) {
      const wire = notification(kind, pick(HOSTS, i), 2, i);
      channel.publish(wire.exchange, wire.routingKey, wire.body, { contentType: 'application/json' });
    }
    await channel.waitForConfirms();
  }

  /**
   * Kills the first RPC server of `topic` with SIGKILL, as a crashed service dies, and starts a new one on the same
   * host as systemd would: the dead one's fanout queue stays behind with no consumer while casts keep filling it.
   */
  async crashServer(topic: string): Promise<{ killed: RunningServer; replacement: RunningServer }> {
    const index = this.servers.findIndex((s) => s.topic === topic && s.child.exitCode === null);
    const killed = this.servers[index];
    if (!killed) throw new Error(`no running RPC server of topic ${topic}`);
    killed.child.kill('SIGKILL');
    this.servers.splice(index, 1);
    const replacement = await this.startServer(killed, index);
    return { killed, replacement };
  }

  /** Opens a connection named like `service`'s; the caller owns it (faults close it to clear). */
  async openConnection(service: string, options: { heartbeat?: number } = {}): Promise<ChannelModel> {
    const connection = await this.connection(service, 2, options.heartbeat);
    return connection;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    const exits = this.servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve();
          server.child.once('exit', () => resolve());
          server.child.kill('SIGTERM');
        }),
    );
    for (const connection of this.connections.splice(0)) await connection.close().catch(() => undefined);
    await Promise.all(exits);
  }
}
