/**
 * The load of bench/soak, in a child process so that the RSS and event-loop lag the soak samples are warren's alone
 * and the publisher's own timers do not compete with the orchestrator's.
 *
 * It publishes oslo notifications as OpenStack services put them on the wire (src/demo/oslo-notifications.ts) at
 * SOAK_RATE per second on one confirm channel: mostly INFO, a share SOAK_ERROR_SHARE of ERROR, both envelope
 * versions, over the `nova`, `neutron` and `openstack` exchanges and SOAK_HOSTS compute hosts. It counts what the
 * broker confirmed, per priority, and how many tap groups the ERRORs should open (one per event type and host per
 * group window, chained from the first event as warren's grouper chains them), so the parent can compare what
 * warren consumed and posted with what was sent. It never catches up on a schedule it fell behind: the shortfall is
 * reported as `behind`, so the rate the machine sustained is measured, not assumed.
 */
import { type ConfirmChannel, connect } from 'amqplib';
import { type NotificationKind, notification } from '../../src/demo/oslo-notifications.js';
import { ERROR_KINDS, INFO_KINDS } from '../../src/demo/traffic-simulator.js';

export type LoadRequest = { type: 'stop' };

export interface LoadStats {
  /** Handed to the channel. */
  published: number;
  /** Confirmed by the broker (ack). */
  confirmed: number;
  /** Refused by the broker (nack). */
  nacked: number;
  /** Confirmed, by priority. */
  info: number;
  error: number;
  /** Notifications the schedule asked for that were never sent because the publisher was behind. */
  behind: number;
  /** ERROR groups warren should have opened for the confirmed ERRORs, per (event type, host) and group window. */
  expectedGroups: number;
  seconds: number;
}

export type LoadReply = { type: 'ready' } | { type: 'stats'; stats: LoadStats } | { type: 'stopped'; stats: LoadStats };

const amqpUrl = process.env.SOAK_AMQP_URL ?? '';
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const ERROR_SHARE = Number(process.env.SOAK_ERROR_SHARE ?? 0.05);
const HOSTS = Array.from(
  { length: Number(process.env.SOAK_HOSTS ?? 10) },
  (_, i) => `cmp-${String(i + 1).padStart(2, '0')}`,
);
const GROUP_WINDOW_MS = Number(process.env.SOAK_GROUP_WINDOW_MS ?? 300_000);
const TICK_MS = 20;
/** Unconfirmed publishes above which a tick is skipped: the broker is the bottleneck then, not this process. */
const MAX_IN_FLIGHT = 5_000;
const STATS_EVERY_MS = 10_000;

const stats: LoadStats = {
  published: 0,
  confirmed: 0,
  nacked: 0,
  info: 0,
  error: 0,
  behind: 0,
  expectedGroups: 0,
  seconds: 0,
};
/** Per (kind, host): when the group window of the current chain opened. */
const groupOpened = new Map<string, number>();
let inFlight = 0;
const started = performance.now();

function send(reply: LoadReply): void {
  process.send?.(reply);
}

function snapshot(): LoadStats {
  return { ...stats, seconds: (performance.now() - started) / 1000 };
}

/** Counts a confirmed ERROR into the group chains: a new group when its key has none open, or its window passed. */
function countGroup(key: string, at: number): void {
  const opened = groupOpened.get(key);
  if (opened === undefined || at - opened >= GROUP_WINDOW_MS) {
    groupOpened.set(key, at);
    stats.expectedGroups++;
  }
}

let errorsSent = 0;
let infosSent = 0;

function publishOne(channel: ConfirmChannel, n: number): boolean {
  const error = Math.floor(n * ERROR_SHARE) !== Math.floor((n - 1) * ERROR_SHARE);
  // Each priority counts its own notifications, so every kind of it meets every host whatever the error share.
  const i = error ? errorsSent++ : infosSent++;
  const kinds = error ? ERROR_KINDS : INFO_KINDS;
  const kind = kinds[i % kinds.length] as NotificationKind;
  const host = HOSTS[Math.floor(i / kinds.length) % HOSTS.length] as string;
  // A third in envelope v1, chosen apart from the kind and host so every kind arrives in both envelopes.
  const wire = notification(kind, host, Math.floor(i / (kinds.length * HOSTS.length)) % 3 === 0 ? 1 : 2, n);
  inFlight++;
  stats.published++;
  return channel.publish(wire.exchange, wire.routingKey, wire.body, { contentType: 'application/json' }, (err) => {
    inFlight--;
    if (err) {
      stats.nacked++;
      return;
    }
    stats.confirmed++;
    if (error) {
      stats.error++;
      countGroup(`${kind}\u0000${host}`, Date.now());
    } else {
      stats.info++;
    }
  });
}

async function main(): Promise<void> {
  const connection = await connect(amqpUrl, {
    clientProperties: { connection_name: `nova-conductor:${process.pid}:soak-load` },
  });
  const channel = await connection.createConfirmChannel();
  let stopping = false;
  let waitingForDrain = false;
  channel.on('drain', () => {
    waitingForDrain = false;
  });

  let n = 0;
  let owed = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    owed += (RATE * (now - last)) / 1000;
    last = now;
    // More than two ticks' worth owed means this loop or the broker could not keep up: that part is dropped, not
    // queued, so a slow stretch shows as a shortfall instead of a burst later.
    const cap = (2 * RATE * TICK_MS) / 1000;
    if (owed > cap) {
      stats.behind += Math.floor(owed - cap);
      owed -= Math.floor(owed - cap);
    }
    if (waitingForDrain || inFlight > MAX_IN_FLIGHT) return;
    for (; owed >= 1; owed--) {
      if (!publishOne(channel, ++n)) {
        waitingForDrain = true;
        owed--;
        break;
      }
    }
  }, TICK_MS);
  const reporter = setInterval(() => send({ type: 'stats', stats: snapshot() }), STATS_EVERY_MS);

  process.on('message', async (request: LoadRequest) => {
    if (request.type !== 'stop' || stopping) return;
    stopping = true;
    clearInterval(tick);
    clearInterval(reporter);
    await channel.waitForConfirms().catch(() => undefined);
    await connection.close().catch(() => undefined);
    send({ type: 'stopped', stats: snapshot() });
    process.disconnect?.();
  });
  send({ type: 'ready' });
}

main().catch((error) => {
  console.error(`soak load: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
