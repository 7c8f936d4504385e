/**
 * The tap and the health sweeps across the death of the tap's own RabbitMQ node: its Erlang VM is killed with
 * kill -9 while a publisher on another node sends a steady, numbered stream of oslo ERROR notifications with
 * publisher confirms, before the kill, through the failover and after it. The tap must fail over to another node and
 * go on counting; in the default exclusive mode the events published in the gap are lost (its queue died with the
 * node) and only those, in durable mode none is. Meanwhile the sweeps go on through the other management URLs,
 * post the node-down alert and edit it to resolved once the node is started again.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { attachLocalStack } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { OsloPublisher, osloMessage } from '../support/oslo-publisher.js';
import { waitUntil } from '../support/wait-until.js';
import { counterSum, flushHarnessRedis, harnessKeys, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('tap-tap-node-kill');
const NOVA_ERROR = 'nova-legacy-compute.instance.create.error.v2.json';
const PER_SECOND = 40;
/** Events the stream sends once the tap is bound again (4 s worth). */
const AFTER_REBIND = PER_SECOND * 4;
/** Events published this long before the kill may still have been in flight to the dying node. */
const IN_FLIGHT_MS = 2_000;
const ALERT_TIMEOUT = 60_000;

interface Published {
  seq: number;
  messageId: string;
  sentAt: number;
  outcome?: 'confirmed' | 'nacked';
}

/**
 * A publisher sending numbered notifications at a steady rate on a confirm channel, remembering each one's
 * message_id, when it was sent and whether the broker confirmed it (OsloPublisher only waits for all at once).
 */
class NotificationStream {
  readonly sent: Published[] = [];
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {}

  static async connect(amqpUrl: string): Promise<NotificationStream> {
    const connection = await connect(amqpUrl);
    connection.on('error', () => undefined);
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    return new NotificationStream(connection, channel);
  }

  /** Sends `perSecond` notifications a second, catching up on the timer's drift, until stop(). */
  start(exchange: string, host: string, perSecond: number): void {
    const startedAt = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - startedAt) * perSecond) / 1000);
      while (this.sent.length < due) this.publishOne(exchange, host);
    }, 10);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  confirmed(): Published[] {
    return this.sent.filter((p) => p.outcome === 'confirmed');
  }

  settled(): boolean {
    return this.sent.every((p) => p.outcome !== undefined);
  }

  async close(): Promise<void> {
    this.stop();
    await this.connection.close().catch(() => undefined);
  }

  private publishOne(exchange: string, host: string): void {
    const message = osloMessage(NOVA_ERROR, (m) => (m.publisher_id = `compute.${host}`));
    const entry: Published = { seq: this.sent.length, messageId: message.messageId, sentAt: Date.now() };
    this.sent.push(entry);
    this.channel.publish(
      exchange,
      'notifications.error',
      message.body,
      { contentType: 'application/json', contentEncoding: 'utf-8' },
      (error) => {
        entry.outcome = error ? 'nacked' : 'confirmed';
      },
    );
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

describe('the tap and the health sweeps across a kill -9 of the tap node', () => {
  const desc = inject('stack');

  it.each(['exclusive', 'durable'] as const)(
    '%s mode: fails over, resumes counting, and the node-down alert fires and resolves',
    async (mode) => {
      const handle = attachLocalStack(desc);
      await restoreCluster(desc, handle);
      await flushHarnessRedis(desc, KEYS);
      const exchange = `warren-tap-kill-${randomUUID().slice(0, 8)}`;
      const host = `node-kill-${mode}-${randomUUID().slice(0, 6)}`;
      const durableQueue = 'warren.tap.default';
      const fake = await FakeSlack.start();
      const redis = new Redis(desc.redisUrl);
      let stream: NotificationStream | undefined;
      let warren: Warren | undefined;
      let killed: string | undefined;

      const recorded = async () =>
        (await counterSum(warren as Warren, 'warren_tap_events_total', { outcome: 'new' })) +
        (await counterSum(warren as Warren, 'warren_tap_events_total', { outcome: 'grouped' }));
      const okSweeps = () => counterSum(warren as Warren, 'warren_health_sweeps_total', { outcome: 'ok' });
      const textOf = (c: RecordedCall) => `${String(c.params.text)} ${JSON.stringify(c.params.blocks ?? [])}`;

      try {
        // A queue left by an earlier run in durable mode would hand this run stale events.
        const setup = await OsloPublisher.connect(desc.nodes[0]?.amqpUrl as string);
        await setup.declareExchange(exchange);
        await setup.deleteQueue(durableQueue);
        await setup.close();

        warren = await startHarnessWarren({
          stack: desc,
          fake,
          keyPrefix: KEYS,
          yaml: `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
health:
  interval: 1s
  defaultFor: 1
tap:
  mode: ${mode}
  durableQueue: {expires: 10m}
  exchangeRetry: 300ms
  updateInterval: 300ms
  groupWindow: 10m
  bindings:
    - {exchange: ${exchange}, routingKeys: [notifications.error]}
  routes:
    - {name: errors, match: {priority: [ERROR, CRITICAL]}}
`,
        });
        const tap = () => (warren as Warren).tap?.status()[0];
        await waitUntil(() => tap()?.bindings[0]?.state === 'bound', 'the tap to bind', 30_000);
        const tapNode = tap()?.node;
        const victim = desc.nodes.find((n) => tapNode === `127.0.0.1:${n.amqpPort}`);
        const publisherNode = desc.nodes.find((n) => n !== victim);
        expect(victim).toBeDefined();
        const victimName = (victim as { name: string }).name;

        stream = await NotificationStream.connect((publisherNode as { amqpUrl: string }).amqpUrl);
        stream.start(exchange, host, PER_SECOND);
        await waitUntil(async () => (await recorded()) >= PER_SECOND * 2, 'two seconds of events counted', 30_000);

        const sweepsBefore = await okSweeps();
        const killAt = Date.now();
        killed = victimName;
        let noticedAt: number | undefined;
        const [, reboundAt] = await Promise.all([
          handle.killNode(victimName),
          waitUntil(
            () => {
              const s = tap();
              if (noticedAt === undefined && (!s?.connected || s.node !== tapNode)) noticedAt = Date.now();
              return s?.connected && s.node !== tapNode && s.bindings.every((b) => b.state === 'bound') && Date.now();
            },
            'the tap to reconnect to another node and re-bind',
            60_000,
          ),
        ]);
        expect(tap()?.reconnects).toBeGreaterThanOrEqual(1);

        // The stream goes on for a while after the failover, then every publish must be settled by the broker.
        await waitUntil(
          () => (stream as NotificationStream).sent.filter((p) => p.sentAt >= reboundAt).length >= AFTER_REBIND,
          `${AFTER_REBIND} events sent after the failover`,
        );
        stream.stop();
        await waitUntil(() => stream?.settled(), 'the broker to confirm every publish', 60_000);

        // Counting has finished once the count stays the same for 3 s with nothing left unsettled.
        let last = -1;
        let stableSince = Date.now();
        await waitUntil(
          async () => {
            const now = await recorded();
            if (now !== last) {
              last = now;
              stableSince = Date.now();
            }
            return Date.now() - stableSince >= 3_000;
          },
          'the tap count to stop changing',
          60_000,
        );

        // A notification is counted when its message_id is in the tap's de-duplication set in Redis.
        const seen = await Promise.all(
          stream.sent.map((p) => redis.exists(`${KEYS}tap:seen:${p.messageId}:errors`).then((n) => n === 1)),
        );
        const missing = stream.sent.filter((_, i) => !seen[i]);
        const confirmed = stream.confirmed();
        const lost = missing.filter((p) => p.outcome === 'confirmed');
        const nacked = stream.sent.length - confirmed.length;
        const counted = await recorded();
        const duplicates = await counterSum(warren, 'warren_tap_events_total', { outcome: 'duplicate' });
        const span = (ps: Published[]) =>
          ps.length > 0
            ? ` (#${ps[0]?.seq}–#${ps.at(-1)?.seq}, sent ${seconds((ps[0] as Published).sentAt - killAt)}…` +
              `${seconds((ps.at(-1) as Published).sentAt - killAt)} s after the kill)`
            : '';
        console.log(
          `[figures] ${mode}: tap on ${victimName} killed; it noticed after ${seconds((noticedAt ?? reboundAt) - killAt)} s, ` +
            `bound again on ${tap()?.node} ${seconds(reboundAt - killAt)} s after the kill (gap); ` +
            `${stream.sent.length} published at ${PER_SECOND}/s: ${confirmed.length} confirmed, ${nacked} nacked; ` +
            `${counted} counted, ${duplicates} redelivery(ies) recognised as duplicates; ` +
            `lost (confirmed, not counted): ${lost.length}${span(lost)}; ` +
            `not counted at all: ${missing.length}${span(missing)}`,
        );

        // Every event the tap counted was published and confirmed, and counted once.
        expect(counted).toBe(stream.sent.length - missing.length);
        expect(counted).toBe(confirmed.length - lost.length);
        if (mode === 'durable') {
          expect(lost).toEqual([]);
        } else {
          // Lost only in the gap: published while the queue was gone (or just before, in flight to the dying node);
          // those the broker routed to the dead queue are nacked, those published once its binding was gone confirmed.
          expect(missing.filter((p) => p.sentAt >= reboundAt)).toEqual([]);
          expect(missing.filter((p) => p.sentAt < killAt - IN_FLIGHT_MS)).toEqual([]);
        }
        // Redis holds the group: one message for the whole stream, before and after the failover.
        await waitUntil(
          () =>
            fake
              .callsTo('chat.update')
              .some((c) => textOf(c).includes(host) && String(c.params.text).endsWith(`: ${counted} event(s)`)),
          `the group message to show ${counted} events`,
          30_000,
        );
        expect(
          fake.callsTo('chat.postMessage').filter((c) => !c.params.thread_ts && textOf(c).includes(host)),
        ).toHaveLength(1);

        // The sweeps go on without the killed node's management API and report it down.
        const alert = await fake.waitForCall(
          'chat.postMessage',
          (c) =>
            c.params.channel === 'C0ALERTS' &&
            !c.params.thread_ts &&
            JSON.stringify(c.params.blocks).includes('alert `node-down@default`') &&
            JSON.stringify(c.params.blocks).includes(victimName),
          ALERT_TIMEOUT,
        );
        expect(String(alert.params.text)).toMatch(/^CRITICAL/);
        const sweepsWhileDown = (await okSweeps()) - sweepsBefore;
        expect(sweepsWhileDown).toBeGreaterThanOrEqual(3);

        const startAt = Date.now();
        await handle.startNode(victimName);
        const startedAt = Date.now();
        killed = undefined;
        const ts = (alert.reply as { ts: string }).ts;
        const resolved = await fake.waitForCall(
          'chat.update',
          (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
          ALERT_TIMEOUT,
        );
        console.log(
          `[figures] ${mode}: node-down alert posted ${seconds(alert.at - killAt)} s after the kill ` +
            `(${sweepsWhileDown} successful sweeps while the node was down); alert edited to resolved ` +
            `${seconds(resolved.at - startAt)} s after the node was started (startNode returned, the node back ` +
            `in the cluster, after ${seconds(startedAt - startAt)} s)`,
        );
      } finally {
        stream?.stop();
        await warren?.stop();
        await stream?.close();
        await fake.stop();
        redis.disconnect();
        if (killed) await handle.startNode(killed);
        // A node back from kill -9 can stay without management stats; the files after this one need them.
        await restoreCluster(desc, handle);
        const cleanup = await OsloPublisher.connect(desc.nodes[0]?.amqpUrl as string);
        await cleanup.deleteQueue(durableQueue);
        await cleanup.close();
      }
    },
    240_000,
  );
});
