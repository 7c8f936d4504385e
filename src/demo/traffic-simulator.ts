/**
 * The demo's small OpenStack cloud, on the wire: RPC servers for a few services (each its own process, so one can
 * be killed hard), an API service calling them and casting to their fanout exchanges, and notifications in both
 * envelope versions on the `nova`, `neutron` and `openstack` exchanges: mostly INFO, some ERROR. Every connection is
 * named as oslo names it (`<service>:<pid>:<uuid>`), so warren's views by service work on it as on a real cloud.
 * Its queues follow one oslo layout (oslo-layout.ts): classic, or kolla's quorum queues, queue manager and streams.
 */

import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type Channel, type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { DemoError } from '../errors.js';
import { withAmqpVhost } from '../tap/amqp-vhost.js';
import { exchangesDurable, type OsloLayout, QueueManager, replyQueue } from './oslo-layout.js';
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
  /** Its own reply queue (kolla: every server is an RPC client too, under the queue manager's name). */
  replyQueue?: string;
}

export interface SimulatorOptions {
  /** One AMQP URL per node; services are spread over them as a cloud's are. */
  amqpUrls: string[];
  /** Notifications per second, all exchanges together. */
  rate?: number;
  /** Share of the notifications that are errors. */
  errorShare?: number;
  /** How the simulated oslo lays out its queues; default classic. */
  layout?: OsloLayout;
  /**
   * exchange → vhost: each service's notifications are published in its own vhost (service-vhosts.ts); unset: all
   * in the URLs' vhost. RPC traffic stays in the URLs' vhost either way.
   */
  serviceVhosts?: Record<string, string>;
  log?: (line: string) => void;
}

export const DEMO_SERVERS: readonly RpcServerSpec[] = [
  { topic: 'compute', host: 'cmp-01', service: 'nova-compute', exchange: 'nova' },
  { topic: 'compute', host: 'cmp-02', service: 'nova-compute', exchange: 'nova' },
  { topic: 'conductor', host: 'ctl-01', service: 'nova-conductor', exchange: 'nova' },
  { topic: 'l3_agent', host: 'net-01', service: 'neutron-l3-agent', exchange: 'neutron' },
  { topic: 'cinder-volume', host: 'stor-01', service: 'cinder-volume', exchange: 'openstack' },
];

/** What the simulator publishes, by priority: the kinds of oslo-notifications.ts, spread over the exchanges. */
export const INFO_KINDS: readonly NotificationKind[] = [
  'nova.instance.create.end',
  'neutron.port.create.end',
  'nova.versioned.service.update',
];
export const ERROR_KINDS: readonly NotificationKind[] = [
  'nova.instance.create.error',
  'nova.versioned.instance.create.error',
  'cinder.volume.attach.error',
];
const HOSTS = ['cmp-01', 'cmp-02', 'cmp-03'];
const RPC_INTERVAL_MS = 1_000;
const RECONNECT_MS = 2_000;

const pick = <T>(items: readonly T[], n: number): T => items[n % items.length] as T;

export class TrafficSimulator {
  private readonly servers: RunningServer[] = [];
  /** Every queue the RPC servers declared, the dead ones' included: what `stop({ deleteQueues })` removes. */
  private readonly declared = new Set<string>();
  /** Hosts whose server was retired by crashServer: never handed out again, as their queues outlive them. */
  private readonly retiredHosts = new Set<string>();
  private readonly connections: ChannelModel[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private publisher?: ConfirmChannel;
  /** With serviceVhosts: the notifier's channel in each vhost. */
  private readonly vhostPublishers = new Map<string, ConfirmChannel>();
  private api?: { channel: Channel; replyQueue: string };
  private blocked = false;
  private sent = 0;
  private stopped = false;
  /** nova-api's reply queue, named once: oslo keeps it across reconnections. */
  private readonly apiReplyQueue;

  constructor(private readonly options: SimulatorOptions) {
    this.apiReplyQueue = replyQueue(this.layout, new QueueManager('ctl-01', 'nova-api'));
  }

  get layout(): OsloLayout {
    return this.options.layout ?? 'classic';
  }

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
        `an API client, ${this.options.rate ?? 20} notifications/s on nova, neutron, openstack${this.options.serviceVhosts ? ', each in its service vhost' : ''}; ${this.layout} oslo layout`,
    );
  }

  private async startServer(spec: RpcServerSpec, i: number): Promise<RunningServer> {
    const { child, queue, replyQueue } = await startRpcServer(this.url(i), spec.topic, { ...spec, oslo: this.layout });
    if (this.stopped) {
      // A restart that finished after stop(): it must not outlive the simulator.
      child.kill('SIGTERM');
      throw new DemoError(`the simulator stopped while ${spec.service} was starting`);
    }
    const server: RunningServer = { ...spec, child, fanoutQueue: queue, ...(replyQueue ? { replyQueue } : {}) };
    for (const name of [spec.topic, `${spec.topic}.${spec.host}`, queue, replyQueue]) if (name) this.declared.add(name);
    this.servers.push(server);
    // A server whose node went away exits; restart it elsewhere as systemd would (Restart=always). Its old fanout
    // queue stays behind, as in a real cloud after a node failure.
    child.once('exit', () => {
      const index = this.servers.indexOf(server);
      if (index === -1 || this.stopped) return;
      this.servers.splice(index, 1);
      this.log(`simulator: ${spec.service} on ${spec.host} lost its connection; restarting it`);
      setTimeout(() => {
        if (!this.stopped) this.startServer(spec, i + 1).catch((error) => this.log(`simulator: ${error}`));
      }, RECONNECT_MS).unref();
    });
    return server;
  }

  private async connection(service: string, i: number, heartbeat?: number, vhost?: string): Promise<ChannelModel> {
    const url = vhost === undefined ? this.url(i) : withAmqpVhost(this.url(i), vhost);
    const connection = await connect(heartbeat === undefined ? url : `${url}?heartbeat=${heartbeat}`, {
      clientProperties: { connection_name: `${service}:${process.pid}:${randomUUID()}` },
    });
    // The demo breaks the cluster on purpose: a connection that drops is reopened by its owner, or simply gone.
    connection.on('error', () => undefined);
    connection.on('blocked', () => {
      this.blocked = true;
    });
    connection.on('unblocked', () => {
      this.blocked = false;
    });
    connection.once('close', () => {
      const index = this.connections.indexOf(connection);
      if (index !== -1) this.connections.splice(index, 1);
    });
    this.connections.push(connection);
    return connection;
  }

  /**
   * Opens a connection of `service` and sets it up with `open`, and whenever it drops, does so again on the next
   * node, as oslo's clients fail over. Only the first attempt's failure reaches the caller.
   */
  private async keepOpen<T>(
    service: string,
    first: number,
    open: (connection: ChannelModel) => Promise<T>,
    set: (value: T | undefined) => void,
    vhost?: string,
  ): Promise<void> {
    const attempt = async (i: number): Promise<void> => {
      const connection = await this.connection(service, i, undefined, vhost);
      connection.once('close', () => {
        set(undefined);
        if (this.stopped) return;
        const retry = (n: number) =>
          setTimeout(() => {
            if (!this.stopped) attempt(n).catch(() => retry(n + 1));
          }, RECONNECT_MS).unref();
        retry(i + 1);
      });
      set(await open(connection));
    };
    await attempt(first);
  }

  /** nova-api: calls one compute host at a time and casts to the compute fanout, as the scheduler does. */
  private async startApiClient(): Promise<void> {
    await this.keepOpen(
      'nova-api',
      0,
      async (connection) => {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        const { name: replyQueue, options } = this.apiReplyQueue;
        await channel.assertQueue(replyQueue, options);
        this.declared.add(replyQueue);
        await channel.consume(replyQueue, () => undefined, { noAck: true });
        return { channel, replyQueue };
      },
      (api) => {
        this.api = api;
      },
    );
    let n = 0;
    this.timers.push(
      setInterval(() => {
        const api = this.api;
        if (!api || this.blocked || this.stopped) return;
        n++;
        const body = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': '{"method":"ping"}' }));
        try {
          // Calls go to the compute hosts that run now: a retired host's queue gets no more.
          const hosts = this.servers.filter((s) => s.topic === 'compute').map((s) => s.host);
          api.channel.publish('nova', `compute.${pick(hosts.length > 0 ? hosts : ['cmp-01'], n)}`, body, {
            replyTo: api.replyQueue,
            correlationId: randomUUID(),
          });
          api.channel.publish('compute_fanout', '', body);
        } catch {
          // The channel closed under us (a node restarting): keepOpen reopens it.
        }
      }, RPC_INTERVAL_MS),
    );
  }

  private async startNotifier(): Promise<void> {
    await this.keepOpen(
      'nova-conductor',
      1,
      async (connection) => {
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => undefined);
        for (const exchange of ['nova', 'neutron', 'openstack']) {
          await channel.assertExchange(exchange, 'topic', { durable: exchangesDurable(this.layout) });
        }
        return channel;
      },
      (channel) => {
        this.publisher = channel;
      },
    );
    const byVhost = new Map<string, string[]>();
    for (const [exchange, vhost] of Object.entries(this.options.serviceVhosts ?? {})) {
      byVhost.set(vhost, [...(byVhost.get(vhost) ?? []), exchange]);
    }
    for (const [vhost, exchanges] of byVhost) {
      await this.keepOpen(
        `notifier ${vhost}`,
        1,
        async (connection) => {
          const channel = await connection.createConfirmChannel();
          channel.on('error', () => undefined);
          for (const exchange of exchanges) {
            await channel.assertExchange(exchange, 'topic', { durable: exchangesDurable(this.layout) });
          }
          return channel;
        },
        (channel) => {
          if (channel) this.vhostPublishers.set(vhost, channel);
          else this.vhostPublishers.delete(vhost);
        },
        vhost,
      );
    }
    const rate = this.options.rate ?? 20;
    const errorEvery = Math.max(1, Math.round(1 / (this.options.errorShare ?? 0.02)));
    const tickMs = 100;
    let owed = 0;
    this.timers.push(
      setInterval(() => {
        const channel = this.publisher;
        if (!channel || this.blocked || this.stopped) return;
        owed += (rate * tickMs) / 1000;
        try {
          for (; owed >= 1; owed--) {
            this.sent++;
            const kinds = this.sent % errorEvery === 0 ? ERROR_KINDS : INFO_KINDS;
            const wire = notification(
              pick(kinds, Math.floor(this.sent / errorEvery)),
              pick(HOSTS, this.sent),
              this.sent % 3 === 0 ? 1 : 2,
              this.sent,
            );
            const vhost = this.options.serviceVhosts?.[wire.exchange];
            // In its service's vhost when there is one; a vhost whose connection is being reopened drops it.
            const into = vhost === undefined ? channel : this.vhostPublishers.get(vhost);
            into?.publish(wire.exchange, wire.routingKey, wire.body, { contentType: 'application/json' });
          }
        } catch {
          // The channel closed under us: notifications are dropped until keepOpen has reopened it, as oslo's are.
          owed = 0;
        }
      }, tickMs),
    );
  }

  /** Publishes `count` notifications at once (e.g. to fill a queue), resolving when the broker confirmed them. */
  async burst(kind: NotificationKind, count: number): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw new DemoError('the simulator is not started');
    for (let i = 0; i < count; i++) {
      const wire = notification(kind, pick(HOSTS, i), 2, i);
      channel.publish(wire.exchange, wire.routingKey, wire.body, { contentType: 'application/json' });
    }
    await channel.waitForConfirms();
  }

  /**
   * Kills the first RPC server of `topic` with SIGKILL, as a crashed service dies, and starts a new one, leaving a
   * zombie queue behind:
   * - classic: the new one runs on the same host as systemd would restart it, under a new fanout queue; the dead
   *   one's fanout queue stays behind with no consumer while casts keep filling it.
   * - kolla: on the same host the queue manager would hand the new process the same names (no zombie), so the
   *   host is retired and the service moves to a new one. The dead one's reply queue stays behind with
   *   nova-conductor's reply to the call it had in flight, which nobody will read.
   */
  async crashServer(
    topic: string,
  ): Promise<{ killed: RunningServer; replacement: RunningServer; zombieQueue: string }> {
    const index = this.servers.findIndex((s) => s.topic === topic && s.child.exitCode === null);
    const killed = this.servers[index];
    if (!killed) throw new DemoError(`no running RPC server of topic ${topic}`);
    // Out of the list first, so that its exit is not taken for a lost connection and restarted twice.
    this.servers.splice(index, 1);
    killed.child.kill('SIGKILL');
    if (!killed.replyQueue)
      return { killed, replacement: await this.startServer(killed, index), zombieQueue: killed.fanoutQueue };
    this.retiredHosts.add(killed.host);
    const replacement = await this.startServer({ ...killed, host: this.newHost(killed.host) }, index);
    const conductor = this.publisher;
    if (!conductor) throw new DemoError('the simulator is not started');
    const body = Buffer.from(
      JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': '{"result":"ok","ending":true}' }),
    );
    conductor.publish('', killed.replyQueue, body, { correlationId: randomUUID() });
    await conductor.waitForConfirms();
    return { killed, replacement, zombieQueue: killed.replyQueue };
  }

  /** A host name of the same family (`cmp-01` → `cmp-03`) that no server uses and none used before it retired. */
  private newHost(like: string): string {
    const prefix = like.replace(/\d+$/, '');
    const taken = new Set([...this.servers.map((s) => s.host), ...this.retiredHosts]);
    for (let n = 1; ; n++) {
      const host = `${prefix}${String(n).padStart(2, '0')}`;
      if (!taken.has(host)) return host;
    }
  }

  /** Opens a connection named like `service`'s; the caller owns it (faults close it to clear). */
  async openConnection(service: string, options: { heartbeat?: number } = {}): Promise<ChannelModel> {
    const connection = await this.connection(service, 2, options.heartbeat);
    return connection;
  }

  /**
   * Stops the RPC servers and closes every connection. Like oslo's, the servers' queues outlive them (x-expires
   * 30 min); `deleteQueues` removes them too, for a cluster that goes on being used (tests).
   */
  async stop(options: { deleteQueues?: boolean } = {}): Promise<void> {
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
    await Promise.all(exits);
    if (options.deleteQueues && this.connections[0]) {
      const channel = await this.connections[0].createChannel().catch(() => undefined);
      channel?.on('error', () => undefined);
      for (const name of this.declared) await channel?.deleteQueue(name).catch(() => undefined);
    }
    for (const connection of this.connections.splice(0)) await connection.close().catch(() => undefined);
  }
}
