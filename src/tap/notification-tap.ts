/**
 * The AMQP side of the tap for one cluster and vhost (an AMQP connection is opened in one vhost, so a tap listening in
 * several vhosts is one of these per vhost, each with its own connection, failover and state). It connects to any node (shuffled, like oslo's `rabbit_hosts`) with
 * heartbeats, and for each binding opens its own channel, so one missing or misdeclared exchange never takes the
 * other bindings down. Topology is re-created after every reconnect; a broker-side cancel (queue deleted, node
 * failover) re-subscribes. Exclusive queues die with the connection, so warren never leaves behind the
 * zombie queue or backlog it warns about (exclusive, not auto-delete: see setupBindingOnce); `tap.mode: durable` trades that for a named quorum queue with expiry and
 * a length cap, so events published while warren is down are kept.
 *
 * Deliveries are handed to the pipeline and acked after it returns. The pipeline never throws for bad input; if it
 * throws (Redis down) the delivery is kept unacknowledged and handed to the pipeline again after a pause, instead of
 * being lost or spinning. It is not requeued: a quorum queue counts every return towards its delivery limit (20 by
 * default on RabbitMQ 4.0) and drops the message past it, so a Redis outage must not spend those returns.
 *
 * With `tap.declareExchanges`, an exchange that already exists is bound as it is: oslo declares its control exchange
 * durable in quorum mode and not durable otherwise, and only a missing exchange is declared with warren's flags.
 *
 * A vhost that does not exist, or that warren's user may not use, is refused by every node when the connection
 * opens (530 NOT_ALLOWED): the tap says so once per episode, counts it, shows it in its status and tries again every
 * `tap.exchangeRetry`, as for an exchange not declared yet (an operator may create the vhost or grant the permission
 * at any time), without touching the taps of the cluster's other vhosts.
 */
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib';
import type { ClusterConfig } from '../config/schema.js';
import type { BindingConfig, TapConfig } from '../config/tap-schema.js';
import type { Logger } from '../logger.js';
import { scrub } from '../secrets.js';
import { AckBatcher } from './ack-batcher.js';
import { amqpUrlVhost, withAmqpVhost } from './amqp-vhost.js';
import type { TapMetrics } from './tap-metrics.js';
import type { TapPipeline } from './tap-pipeline.js';

export type BindingState = 'pending' | 'bound' | 'waiting_for_exchange' | 'failed';

export interface BindingStatus {
  exchange: string;
  routingKeys: string[];
  state: BindingState;
  queue?: string;
  error?: string;
}

/** Why the broker refuses the tap's vhost: it does not exist, or warren's user has no permission on it. */
export type VhostRefusal = 'vhost_not_found' | 'vhost_access_refused';

export interface TapStatus {
  cluster: string;
  /** The vhost this tap listens in. */
  vhost: string;
  connected: boolean;
  /** Set while every node refuses the vhost, with the broker's reason. */
  refused?: { reason: VhostRefusal; error: string };
  /** host:port of the node the tap is connected to. */
  node?: string;
  mode: TapConfig['mode'];
  paused: boolean;
  blocked: boolean;
  reconnects: number;
  bindings: BindingStatus[];
  received: number;
  /** Deliveries this tap has acked (sent to the broker), since it started. */
  acked: number;
  invalid: number;
  lastEventAt?: number;
  eventsPerSecond: number;
}

interface BindingRuntime {
  config: BindingConfig;
  status: BindingStatus;
  channel?: Channel;
  consumerTag?: string;
  retry?: NodeJS.Timeout;
  acks?: { channel: Channel; batcher: AckBatcher };
  /** Set while a setup runs, so a retry timer and a reconnect never set up the same binding twice. */
  settingUp?: boolean;
}

export interface NotificationTapOptions {
  cluster: ClusterConfig;
  tap: TapConfig;
  /** The vhost to listen in; unset: the vhost of the cluster's AMQP URLs, as a single-vhost deployment has it. */
  vhost?: string;
  /** The bindings to make there; unset: the cluster's `tapBindings`, else `tap.bindings`. */
  bindings?: BindingConfig[];
  pipeline: TapPipeline;
  metrics: TapMetrics;
  logger: Logger;
  random?: () => number;
  /**
   * Asks whether a vhost exists (the management API), to tell a missing vhost from a missing permission when the
   * AMQP refusal does not say; unset or failing: a refusal is reported as a missing permission.
   */
  vhostExists?: (vhost: string) => Promise<boolean>;
}

const PIPELINE_RETRY_MS = 1_000;

function hostPort(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'amqps:' ? 5671 : 5672)}`;
}

/**
 * A connection refused for its vhost, and why when the message says; undefined for anything else. The broker answers
 * connection.open for a vhost that is missing or not permitted with connection.close 530 NOT_ALLOWED; amqplib
 * reports that as `Expected ConnectionOpenOk; got <ConnectionClose channel:0>`, without the broker's text (`null`:
 * refused, reason unknown). A bad password is refused earlier, at start-ok, and is no vhost refusal.
 */
export function vhostRefusal(message: string): VhostRefusal | null | undefined {
  if (/NOT[_-]ALLOWED/.test(message)) return /not found/i.test(message) ? 'vhost_not_found' : 'vhost_access_refused';
  return /Expected ConnectionOpenOk; got <ConnectionClose/.test(message) ? null : undefined;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export class NotificationTap {
  private readonly urls: string[];
  readonly vhost: string;
  private readonly bindings: BindingRuntime[];
  private readonly random: () => number;
  private readonly log: Logger;
  private connection?: ChannelModel;
  /** True from the moment the current connection starts closing, so channel closes are not mistaken for cancels. */
  private closing = false;
  private urlIndex = 0;
  private stopped = false;
  private paused = false;
  private blocked = false;
  private reconnects = 0;
  private acked = 0;
  private connectedNode?: string;
  private refused?: TapStatus['refused'];
  private durableQueueReady?: Promise<string>;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** Deliveries per second over the last minute, in a ring of 60 one-second buckets (constant work per event). */
  private readonly buckets = new Array<number>(60).fill(0);
  private readonly bucketSecond = new Array<number>(60).fill(-1);

  constructor(private readonly options: NotificationTapOptions) {
    this.random = options.random ?? Math.random;
    const vhost = options.vhost;
    const urls = vhost ? options.cluster.amqp.map((url) => withAmqpVhost(url, vhost)) : options.cluster.amqp;
    this.urls = shuffle(urls, this.random);
    this.vhost = vhost ?? amqpUrlVhost(options.cluster.amqp[0] as string);
    this.log = options.logger.child({
      component: 'tap',
      cluster: options.cluster.name,
      ...(vhost ? { vhost } : {}),
    });
    this.bindings = (options.bindings ?? options.cluster.tapBindings ?? options.tap.bindings).map((config) => ({
      config,
      status: { exchange: config.exchange, routingKeys: [...config.routingKeys], state: 'pending' as BindingState },
    }));
  }

  get cluster(): string {
    return this.options.cluster.name;
  }

  start(): void {
    if (!this.loop) this.loop = this.connectLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    for (const b of this.bindings) clearTimeout(b.retry);
    await this.connection?.close().catch(() => undefined);
    await this.loop;
  }

  async pause(): Promise<void> {
    this.paused = true;
    await Promise.all(this.bindings.map((b) => this.cancelConsumer(b)));
  }

  async resume(): Promise<void> {
    if (!this.paused) return;
    this.paused = false;
    await Promise.all(this.bindings.filter((b) => b.status.state === 'bound').map((b) => this.consume(b)));
  }

  status(): TapStatus {
    const counters = this.options.pipeline.counters;
    const nowSecond = Math.floor(Date.now() / 1000);
    let lastMinute = 0;
    for (let i = 0; i < 60; i++) {
      if ((this.bucketSecond[i] as number) > nowSecond - 60) lastMinute += this.buckets[i] as number;
    }
    return {
      cluster: this.cluster,
      vhost: this.vhost,
      connected: this.connection !== undefined,
      ...(this.refused ? { refused: { ...this.refused } } : {}),
      node: this.connectedNode,
      mode: this.options.tap.mode,
      paused: this.paused,
      blocked: this.blocked,
      reconnects: this.reconnects,
      bindings: this.bindings.map((b) => ({ ...b.status, routingKeys: [...b.status.routingKeys] })),
      received: counters.received,
      acked: this.acked,
      invalid: counters.invalid,
      lastEventAt: counters.lastEventAt,
      eventsPerSecond: Math.round((lastMinute / 60) * 10) / 10,
    };
  }

  private backoffMs(attempt: number): number {
    const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
    return Math.round(base * (0.5 + this.random()));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async connectLoop(): Promise<void> {
    let failures = 0;
    let refused = false;
    let connectedBefore = false;
    while (!this.stopped) {
      const url = this.urls[this.urlIndex % this.urls.length] as string;
      this.urlIndex++;
      try {
        const heartbeat = Math.max(1, Math.round(this.options.tap.heartbeat / 1000));
        const target = new URL(url);
        target.searchParams.set('heartbeat', String(heartbeat));
        const name = this.options.vhost ? `${this.cluster}:${this.vhost}` : this.cluster;
        const connection = await connect(target.toString(), {
          clientProperties: { connection_name: `warren-tap:${name}:${process.pid}` },
          timeout: 10_000,
        });
        if (this.stopped) {
          await connection.close().catch(() => undefined);
          break;
        }
        failures = 0;
        if (this.refused) this.log.info({ vhost: this.vhost }, 'tap vhost accepted again');
        this.refused = undefined;
        this.options.metrics.vhostUp.set({ cluster: this.cluster, vhost: this.vhost }, 1);
        if (connectedBefore) {
          this.reconnects++;
          this.options.metrics.reconnects.inc({ cluster: this.cluster });
        }
        connectedBefore = true;
        this.closing = false;
        const closed = new Promise<void>((resolve) =>
          connection.once('close', () => {
            this.closing = true;
            resolve();
          }),
        );
        connection.on('error', (error: Error) => {
          this.closing = true;
          this.log.warn({ err: error }, 'tap connection error');
        });
        connection.on('blocked', (reason: string) => {
          this.blocked = true;
          this.log.warn({ reason }, 'tap connection blocked by the broker (resource alarm)');
        });
        connection.on('unblocked', () => {
          this.blocked = false;
          this.log.info('tap connection unblocked');
        });
        this.connection = connection;
        this.connectedNode = hostPort(url);
        this.log.info({ node: this.connectedNode }, 'tap connected');
        this.durableQueueReady = undefined;
        for (const binding of this.bindings) void this.setupBinding(connection, binding);
        await closed;
        this.connection = undefined;
        this.connectedNode = undefined;
        this.options.metrics.vhostUp.set({ cluster: this.cluster, vhost: this.vhost }, 0);
        for (const b of this.bindings) {
          clearTimeout(b.retry);
          b.channel = undefined;
          b.consumerTag = undefined;
          b.status.state = 'pending';
        }
        if (!this.stopped)
          this.log.warn({ node: hostPort(url) }, 'tap connection closed; reconnecting to another node');
      } catch (error) {
        failures++;
        refused = await this.cannotConnect(url, error);
      }
      // A fresh connection is tried at once on another node; repeated failures back off with jitter. A refused
      // vhost is refused by every node alike: it waits for an operator, so it is asked again at a steady pace.
      if (!this.stopped && failures > 0) {
        await this.sleep(refused ? this.options.tap.exchangeRetry : this.backoffMs(failures));
      }
    }
  }

  /** Logs a failed connection attempt; true when the broker refused the vhost. */
  private async cannotConnect(url: string, error: unknown): Promise<boolean> {
    const message = scrub(String(error instanceof Error ? error.message : error));
    const said = vhostRefusal(message);
    const reason = said === null ? await this.whyRefused() : said;
    // amqplib wraps the broker's words when it has them: `…: 530 (NOT-ALLOWED) with message "NOT_ALLOWED - …"`.
    // Without them, the management API's answer says which of the two it is.
    const broker =
      /with message "(.*)"/.exec(message)?.[1] ??
      (said !== null
        ? message
        : reason === 'vhost_not_found'
          ? `530 NOT_ALLOWED at connection.open: vhost ${this.vhost} not found`
          : `530 NOT_ALLOWED at connection.open: vhost ${this.vhost} refused to the tap's user`);
    if (!reason) {
      this.log.warn({ node: hostPort(url), err: message }, 'tap cannot connect');
      return false;
    }
    this.options.metrics.vhostUp.set({ cluster: this.cluster, vhost: this.vhost }, 0);
    this.options.metrics.vhostRefused.inc({ cluster: this.cluster, vhost: this.vhost, reason });
    // Said once per episode and reason: the retries go on with backoff, and the other vhosts' taps are unaffected.
    if (this.refused?.reason !== reason) {
      this.log.error(
        { vhost: this.vhost, reason, node: hostPort(url), broker },
        reason === 'vhost_not_found'
          ? `tap vhost ${this.vhost} does not exist on cluster ${this.cluster}; its bindings wait, the other vhosts are unaffected`
          : `tap user may not use vhost ${this.vhost} on cluster ${this.cluster} (no permission); its bindings wait, the other vhosts are unaffected`,
      );
    }
    this.refused = { reason, error: broker };
    return true;
  }

  private async whyRefused(): Promise<VhostRefusal> {
    try {
      const exists = await this.options.vhostExists?.(this.vhost);
      return exists === false ? 'vhost_not_found' : 'vhost_access_refused';
    } catch {
      return 'vhost_access_refused';
    }
  }

  /** Retries belong to one connection: a timer set under a connection that has since closed does nothing. */
  private scheduleRetry(binding: BindingRuntime, ms: number, connection: ChannelModel): void {
    clearTimeout(binding.retry);
    binding.retry = setTimeout(() => {
      if (this.connection === connection && !this.stopped) void this.setupBinding(connection, binding);
    }, ms);
  }

  private async durableQueue(channel: Channel): Promise<string> {
    const name = `warren.tap.${this.cluster}`;
    const { expires, maxLength } = this.options.tap.durableQueue;
    await channel.assertQueue(name, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-expires': expires, 'x-max-length': maxLength },
    });
    return name;
  }

  private async setupBinding(connection: ChannelModel, binding: BindingRuntime): Promise<void> {
    if (binding.settingUp || binding.status.state === 'bound' || binding.status.state === 'failed') return;
    binding.settingUp = true;
    try {
      await this.setupBindingOnce(connection, binding);
    } finally {
      binding.settingUp = false;
    }
  }

  private async setupBindingOnce(connection: ChannelModel, binding: BindingRuntime): Promise<void> {
    const { tap } = this.options;
    const exchange = binding.config.exchange;
    let channel: Channel;
    try {
      channel = await connection.createChannel();
    } catch {
      return; // The connection is going away; the reconnect re-creates everything.
    }
    binding.channel = channel;
    let lastError: Error | undefined;
    channel.on('error', (error: Error) => {
      lastError = error;
    });
    channel.on('close', () => {
      if (binding.channel === channel) {
        binding.channel = undefined;
        binding.consumerTag = undefined;
      }
      // A channel closed under a live connection after binding (e.g. queue deleted): set it up again.
      if (!this.stopped && this.connection === connection && !this.closing && binding.status.state === 'bound') {
        binding.status.state = 'pending';
        this.scheduleRetry(binding, 1_000, connection);
      }
    });
    try {
      if (tap.declareExchanges) {
        // Declaring an existing exchange with other flags fails with 406, so whatever oslo declared first is
        // bound as it is (durable with rabbit_quorum_queue or amqp_durable_queues); only a missing one is declared.
        if (!(await this.exchangeExists(connection, exchange))) {
          await channel.assertExchange(exchange, 'topic', { durable: tap.exchangeDurable, autoDelete: false });
        }
      } else {
        await channel.checkExchange(exchange);
      }
      let queue: string;
      if (tap.mode === 'durable') {
        this.durableQueueReady ??= this.durableQueue(channel);
        queue = await this.durableQueueReady;
      } else {
        // Exclusive already ties the queue's life to this connection. auto-delete would add nothing but harm: the
        // broker would delete the queue the moment `/rabbit tap pause` cancels its only consumer.
        queue = (await channel.assertQueue('', { exclusive: true, autoDelete: false, durable: false })).queue;
      }
      for (const key of binding.config.routingKeys) await channel.bindQueue(queue, exchange, key);
      binding.status = { ...binding.status, state: 'bound', queue, error: undefined };
      if (tap.mode === 'exclusive' || this.bindings.find((b) => b.status.state === 'bound') === binding) {
        await channel.prefetch(tap.prefetch);
        if (!this.paused) await this.consume(binding);
      }
      this.log.info({ exchange, queue }, 'tap bound');
    } catch (error) {
      const message = String((lastError ?? error) instanceof Error ? (lastError ?? (error as Error)).message : error);
      if (/NOT_FOUND/.test(message) && /exchange/i.test(message)) {
        if (binding.status.state !== 'waiting_for_exchange') {
          this.log.info({ exchange }, 'exchange does not exist yet (oslo declares it on first publish); will retry');
        }
        binding.status = { ...binding.status, state: 'waiting_for_exchange', error: `exchange ${exchange} not found` };
        this.scheduleRetry(binding, tap.exchangeRetry, connection);
      } else if (/PRECONDITION_FAILED/.test(message) && /for exchange/.test(message)) {
        // Declared by someone else (oslo's first publish) between warren's check and its declare: the next attempt
        // finds it and binds to it as it is.
        this.log.info({ exchange }, 'exchange was declared with other flags meanwhile; binding to it as it is');
        binding.status = { ...binding.status, state: 'pending', error: scrub(message) };
        this.scheduleRetry(binding, 0, connection);
      } else if (/PRECONDITION_FAILED/.test(message)) {
        // warren's own queue exists with other arguments (tap.durableQueue changed): no retry can fix that.
        const error = `the broker refused warren's queue for ${exchange}: ${scrub(message)}`;
        this.log.error({ exchange, broker: scrub(message) }, error);
        binding.status = { ...binding.status, state: 'failed', error };
      } else if (this.connection === connection && !this.stopped) {
        binding.status = { ...binding.status, state: 'pending', error: scrub(message) };
        this.log.warn({ exchange, err: scrub(message) }, 'tap binding failed; will retry');
        this.scheduleRetry(binding, 2_000, connection);
      }
      await channel.close().catch(() => undefined);
    }
  }

  /** A passive declare on a channel of its own: a missing exchange closes the channel it is asked on. */
  private async exchangeExists(connection: ChannelModel, exchange: string): Promise<boolean> {
    const probe = await connection.createChannel();
    let closedBy: Error | undefined;
    probe.on('error', (error: Error) => {
      closedBy = error;
    });
    try {
      await probe.checkExchange(exchange);
    } catch (error) {
      const message = (closedBy ?? (error as Error)).message;
      if (/NOT_FOUND/.test(message)) return false;
      throw closedBy ?? error;
    }
    await probe.close().catch(() => undefined);
    return true;
  }

  private async consume(binding: BindingRuntime): Promise<void> {
    const channel = binding.channel;
    const queue = binding.status.queue;
    if (!channel || !queue || binding.consumerTag) return;
    const reply = await channel.consume(queue, (msg) => this.onMessage(binding, channel, msg), { noAck: false });
    binding.consumerTag = reply.consumerTag;
  }

  private async cancelConsumer(binding: BindingRuntime): Promise<void> {
    const tag = binding.consumerTag;
    binding.consumerTag = undefined;
    if (tag && binding.channel) await binding.channel.cancel(tag).catch(() => undefined);
  }

  private ackBatcher(binding: BindingRuntime, channel: Channel): AckBatcher {
    if (binding.acks?.channel !== channel) {
      binding.acks = {
        channel,
        batcher: new AckBatcher(channel, this.options.tap.prefetch, (count) => {
          this.acked += count;
        }),
      };
    }
    return binding.acks.batcher;
  }

  private onMessage(binding: BindingRuntime, channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Broker-side cancel: the queue was deleted or its node went away. Re-create the binding.
      this.log.warn({ exchange: binding.config.exchange }, 'tap consumer cancelled by the broker; re-subscribing');
      binding.consumerTag = undefined;
      binding.status.state = 'pending';
      void channel.close().catch(() => undefined);
      if (this.connection) this.scheduleRetry(binding, 500, this.connection);
      return;
    }
    const second = Math.floor(Date.now() / 1000);
    const slot = second % 60;
    if (this.bucketSecond[slot] !== second) {
      this.bucketSecond[slot] = second;
      this.buckets[slot] = 0;
    }
    this.buckets[slot] = (this.buckets[slot] as number) + 1;
    const acks = this.ackBatcher(binding, channel);
    acks.received(msg);
    this.process(binding, channel, acks, msg);
  }

  private process(binding: BindingRuntime, channel: Channel, acks: AckBatcher, msg: ConsumeMessage): void {
    let handled: ReturnType<TapPipeline['handle']>;
    try {
      handled = this.options.pipeline.handle(msg.fields.exchange, msg.fields.routingKey, msg.content);
    } catch (error) {
      this.retry(binding, channel, acks, msg, error);
      return;
    }
    // Settled without I/O (most events): no promise, no microtask.
    if (typeof handled === 'string') acks.done(msg);
    else
      handled.then(
        () => acks.done(msg),
        (error: unknown) => this.retry(binding, channel, acks, msg, error),
      );
  }

  /**
   * Hands the delivery to the pipeline again after a pause, still unacknowledged. Once its channel is gone the
   * broker has taken it back and delivers it again elsewhere, so this copy is left alone.
   */
  private retry(
    binding: BindingRuntime,
    channel: Channel,
    acks: AckBatcher,
    msg: ConsumeMessage,
    error: unknown,
  ): void {
    this.log.warn({ err: error }, 'tap could not process a notification; retrying it');
    setTimeout(() => {
      if (!this.stopped && binding.channel === channel) this.process(binding, channel, acks, msg);
    }, PIPELINE_RETRY_MS);
  }
}
