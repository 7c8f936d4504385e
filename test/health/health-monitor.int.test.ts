/**
 * The sweep itself, without a broker: snapshots come from captured fixtures (a `SnapshotSource` per cluster), the
 * alert state and the outbox live in a scratch Redis, Slack is a recording chat port. Streaks (`for`), a part of
 * the cluster unreadable (its checks neither fire nor resolve), and resolution.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { healthSchema } from '../../src/config/health-schema.js';
import { alarmsCheck } from '../../src/health/checks/alarms.js';
import type { ClusterSnapshot } from '../../src/health/cluster-snapshot.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { createLogger } from '../../src/logger.js';
import { recordingChat } from '../support/recording-chat.js';
import { scratchRedis } from '../support/scratch-redis.js';
import { scenarioSnapshot, snapshotOf } from '../support/snapshot-fixtures.js';

const alarmed = () => scenarioSnapshot('disk-alarm', ['nodes']);
const healthy = () => scenarioSnapshot('healthy', ['nodes']);
const unreadable = () => snapshotOf({ errors: { nodes: 'the management API timed out' } });

/** A monitor of cluster `local` that sweeps `snapshot()` at `now()`, with the alarms check firing after `streak`. */
function alarmsMonitor(
  scratch: ReturnType<typeof scratchRedis>,
  chat: ChatPort,
  streak: number,
  snapshot: () => ClusterSnapshot,
  now: () => number,
): HealthMonitor {
  const redis = scratch.redis();
  return new HealthMonitor({
    clusters: new ClusterDirectory([]),
    health: healthSchema.parse({ for: { alarms: streak } }),
    channel: 'C0HEALTH',
    pacer: new ChannelPacer(redis, 0, `${scratch.prefix}pace:`),
    redis,
    chat,
    logger: createLogger('silent'),
    checks: [alarmsCheck],
    keyPrefix: scratch.prefix,
    now,
    snapshots: new Map([['local', { fetch: async () => snapshot() }]]),
  });
}

describe('HealthMonitor.sweep', () => {
  const scratch = scratchRedis('sweep');
  let monitor: HealthMonitor;
  let next: ClusterSnapshot;
  const chat = recordingChat();
  let clock = Date.UTC(2026, 11, 6);

  beforeAll(() => {
    monitor = alarmsMonitor(
      scratch,
      chat,
      2,
      () => next,
      () => clock,
    );
  });

  /** One sweep of `snapshot`, a minute after the last; what the alarms alert did. */
  async function sweep(snapshot: ClusterSnapshot): Promise<string | undefined> {
    next = snapshot;
    clock += 60_000;
    const outcome = await monitor.sweep('local');
    expect(outcome.ran).toBe(true);
    return outcome.events.alarms;
  }

  it('fires after `for` failing sweeps, and posts the alert once', async () => {
    expect(await sweep(alarmed())).toBe('quiet');
    expect(chat.posts).toEqual([]);
    expect(await sweep(alarmed())).toBe('fired');
    expect(await sweep(alarmed())).toBe('unchanged');
    expect(chat.posts).toHaveLength(1);
    expect(chat.posts[0]?.text).toMatch(/alarm/i);
    expect(chat.posts[0]?.channel).toBe('C0HEALTH');
    const [alert] = await monitor.alerts();
    expect(alert).toMatchObject({ id: 'alarms@local', status: 'firing', ts: 'chat.1' });
  });

  it('neither resolves nor changes the alert while the nodes cannot be read', async () => {
    expect(await sweep(unreadable())).toBeUndefined();
    expect(await sweep(unreadable())).toBeUndefined();
    expect(chat.posts).toHaveLength(1);
    expect(chat.updates).toEqual([]);
    expect((await monitor.alerts())[0]?.status).toBe('firing');
  });

  it('resolves on the first passing sweep: the message edited to resolved, a reply in its thread', async () => {
    expect(await sweep(healthy())).toBe('resolved');
    expect(chat.updates).toHaveLength(1);
    expect(chat.updates[0]).toMatch(/^RESOLVED/);
    expect(chat.posts.slice(1)).toEqual([
      {
        channel: 'C0HEALTH',
        text: expect.stringMatching(/^:white_check_mark: Resolved after 4 min/),
        thread: 'chat.1',
        source: 'chat',
      },
    ]);
    expect(await sweep(healthy())).toBe('quiet');
    expect(chat.posts).toHaveLength(2);
    expect(chat.updates).toHaveLength(1);
  });

  it('breaks the streak with a passing sweep: one failing sweep after it does not fire', async () => {
    expect(await sweep(alarmed())).toBe('quiet');
    expect(await sweep(healthy())).toBe('quiet');
    expect(await sweep(alarmed())).toBe('quiet');
    expect(chat.posts).toHaveLength(2);
    expect(await sweep(alarmed())).toBe('fired');
    expect(chat.posts).toHaveLength(3);
    expect(chat.posts[2]?.thread).toBeUndefined();
  });
});

describe('HealthMonitor.sweep when an alert is gone before Slack took its last edit', () => {
  const scratch = scratchRedis('sweep-orphan');
  const chat = recordingChat();
  let slackDown = false;
  let monitor: HealthMonitor;
  let next: ClusterSnapshot;
  let clock = Date.UTC(2026, 11, 7);

  beforeAll(() => {
    const failing: ChatPort = {
      ...chat,
      update: async (channel, ts, message) => {
        if (slackDown) throw new Error('Slack answered 503');
        await chat.update(channel, ts, message);
      },
    };
    monitor = alarmsMonitor(
      scratch,
      failing,
      1,
      () => next,
      () => clock,
    );
  });

  const sweep = async (snapshot: ClusterSnapshot) => {
    next = snapshot;
    clock += 60_000;
    return (await monitor.sweep('local')).events.alarms;
  };

  it('still delivers the RESOLVED edit it owes from what was staged, and then forgets it', async () => {
    expect(await sweep(alarmed())).toBe('fired');
    expect(chat.posts).toHaveLength(1);
    slackDown = true;
    expect(await sweep(healthy())).toBe('resolved');
    expect(chat.updates).toEqual([]);
    // The resolved alert expires (its retention) while Slack is still down.
    const redis = scratch.redis();
    const [key] = await redis.keys(`${scratch.prefix}*alert:alarms@local`);
    expect(key).toBeDefined();
    await redis.del(key as string);
    expect(await monitor.alerts()).toEqual([]);
    slackDown = false;
    await sweep(healthy());
    expect(chat.updates).toHaveLength(1);
    expect(chat.updates[0]).toMatch(/^RESOLVED/);
    expect(chat.posts.at(-1)?.text).toMatch(/^:white_check_mark: Resolved after/);
    const [outbox] = await redis.keys(`${scratch.prefix}*outbox`);
    expect(outbox === undefined || (await redis.scard(outbox)) === 0).toBe(true);
  });
});
