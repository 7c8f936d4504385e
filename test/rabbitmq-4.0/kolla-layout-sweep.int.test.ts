/**
 * RabbitMQ 4.0 with the queue layout OpenStack deploys since 2024.1, made by real oslo.messaging 16 clients (not
 * hand-made queues): a quorum RPC server with the queue manager, two stream-fanout servers of one topic with
 * thousands of casts retained in the stream, a classic-mode server killed with SIGKILL (its fanout queue left
 * behind) and a notifier in quorum mode. With all of them present, a sweep runs every check that applies to 4.0,
 * reports mirror sync as not applicable (and partition handling and boot-hang, without node control), and none as
 * "could not run".
 * 4.0 only (project integration-4.0): the stream fanout, transient quorum queues and oslo 16 do not exist on 3.10.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { allChecks } from '../../src/health/checks/index.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import { type OsloAgent, osloLockPath, startOsloAgent } from '../support/oslo-agent.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { waitUntil } from '../support/wait-until.js';
import { counterSum, flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('rabbitmq-4.0-kolla-layout-sweep');
const CASTS = 3000;

const YAML = `
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
tap:
  enabled: false
health:
  interval: 1s
`;

describe('a sweep over the kolla layout on RabbitMQ 4.0', () => {
  const stack = inject('stack');
  // Topics of this run only: other files' oslo servers leave durable quorum queues such as `compute` behind.
  const id = randomUUID().slice(0, 6);
  const [compute, scheduler, conductor] = ['compute', 'scheduler', 'conductor'].map((t) => `kl${id}-${t}`) as [
    string,
    string,
    string,
  ];
  const agents: OsloAgent[] = [];
  let fake: FakeSlack;
  let warren: Warren;
  const management = (path: string) =>
    fetch(`${stack.nodes[0]?.managementUrl}${path}`, {
      headers: { authorization: `Basic ${Buffer.from(`${stack.username}:${stack.password}`).toString('base64')}` },
    });

  const agent = (args: string[]): OsloAgent => {
    const started = startOsloAgent(stack, args);
    agents.push(started);
    return started;
  };

  beforeAll(async () => {
    expect(stack.rabbitmq.series).toBe('4.0');
    await flushHarnessRedis(stack, KEYS);
    const lock = osloLockPath(stack);
    const kolla = ['--quorum', '--transient-quorum', '--queue-manager', '--lock-path', lock];
    const servers = [
      agent([
        'rpc-server',
        '--topic',
        compute,
        '--server',
        'cmp-1',
        '--hostname',
        'cmp-1',
        '--processname',
        'nova-compute',
        ...kolla,
      ]),
      agent([
        'rpc-server',
        '--topic',
        scheduler,
        '--server',
        'ctl-1',
        '--hostname',
        'ctl-1',
        '--processname',
        'nova-scheduler',
        ...kolla,
        '--stream-fanout',
      ]),
      agent([
        'rpc-server',
        '--topic',
        scheduler,
        '--server',
        'ctl-2',
        '--hostname',
        'ctl-2',
        '--processname',
        'nova-scheduler',
        ...kolla,
        '--stream-fanout',
      ]),
    ];
    // Its own control exchange: quorum mode declares `openstack` durable, and a classic-mode service redeclaring it
    // non-durable fails with 406, as it would in a real cloud.
    const classic = agent(['rpc-server', '--topic', conductor, '--server', 'old-1', '--exchange', 'legacy']);
    await Promise.all([...servers, classic].map((s) => s.ready));
    await classic.stop('SIGKILL');
    const cast = agent([
      'cast',
      '--topic',
      scheduler,
      '--fanout',
      '--count',
      String(CASTS),
      ...kolla,
      '--stream-fanout',
    ]);
    const notify = agent([
      'notify',
      '--quorum',
      '--exchange',
      'nova',
      '--count',
      '5',
      '--notify-topic',
      `${compute}-notifications`,
    ]);
    await Promise.all([cast.done, notify.done]);
    fake = await FakeSlack.start();
    // With the nodes' Prometheus plugin, as kolla-ansible deploys it: the delivery-limit check needs its counters.
    warren = await startHarnessWarren({
      stack,
      fake,
      yaml: YAML,
      keyPrefix: KEYS,
      env: { RABBITMQ_PROMETHEUS_URL: stack.nodes.map((n) => n.prometheusUrl).join(',') },
    });
  }, 180_000);

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    await deleteQueuesMatching(stack, new RegExp(`^kl${id}-`));
  });

  it('has the layout oslo 16 made: quorum RPC queues, queue-manager names, a stream fanout, a classic leftover', async () => {
    const queues = (await (await management('/api/queues?columns=name,type,arguments')).json()) as {
      name: string;
      type: string;
      arguments: Record<string, unknown>;
    }[];
    const byName = new Map(queues.map((q) => [q.name, q]));
    expect(byName.get(compute)?.type).toBe('quorum');
    // The queue manager's counter lives in /dev/shm per host and process, so it is 1 only on a fresh machine.
    const managed = queues.filter((q) => new RegExp(`^${compute}_fanout_cmp-1:nova-compute:\\d+$`).test(q.name));
    expect(managed.map((q) => q.type)).toEqual(['quorum']);
    expect(byName.get(`${scheduler}_fanout`)).toMatchObject({ type: 'stream' });
    expect(byName.get(`${scheduler}_fanout`)?.arguments['x-max-age']).toBeDefined();
    const leftover = new RegExp(`^${conductor}_fanout_[0-9a-f]{32}$`);
    expect(queues.some((q) => leftover.test(q.name) && q.type === 'classic')).toBe(true);
  });

  it('runs every applicable check: mirror sync, partition handling and boot-hang are not applicable, nothing could not run', async () => {
    // partition-handling and boot-hang need node control, which this cluster has not
    const applicable = allChecks.length - 3;
    const answer = await waitUntil(
      async () => {
        const text = String((await slash(warren, fake, 'U0BOB', 'health')).text ?? '');
        return !text.includes('could not run') && text;
      },
      'a /rabbit health answer without "could not run"',
      60_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; last: ${String((await slash(warren, fake, 'U0BOB', 'health')).text)}`);
    });
    expect(answer).toContain('3 not applicable');
    expect(answer).toContain(':heavy_minus_sign: *Partition handling*: not applicable without node control');
    expect(answer).toContain(
      ':heavy_minus_sign: *Node hung in its boot*: not applicable without node control: only the CLI tells a booting node',
    );
    expect(answer).toContain(':heavy_minus_sign: *Unsynchronised mirrors*: not applicable on RabbitMQ 4.0');
    const [head] = answer.split('\n\n');
    const passed = Number(/(\d+) check\(s\) passed/.exec(head ?? '')?.[1]);
    const found = Number(/finding\(s\) from (\d+) check\(s\)/.exec(head ?? '')?.[1] ?? 0);
    expect(passed + found).toBe(applicable);
  });

  it('counts the outcomes apart in the sweep metrics', async () => {
    // two sweeps, each with mirror sync (4.0) and partition handling (no node control here) not applicable
    await waitUntil(
      async () =>
        (await counterSum(warren, 'warren_health_check_outcomes_total', {
          check: 'mirror-sync',
          outcome: 'not_applicable',
        })) >= 2,
      'two sweeps with mirror sync not applicable',
      30_000,
    );
    expect(
      await counterSum(warren, 'warren_health_check_outcomes_total', {
        check: 'partition-handling',
        outcome: 'not_applicable',
      }),
    ).toBeGreaterThanOrEqual(2);
    const notApplicable = await counterSum(warren, 'warren_health_check_outcomes_total', {
      check: 'mirror-sync',
      outcome: 'not_applicable',
    });
    expect(notApplicable).toBeGreaterThanOrEqual(2);
    expect(
      await counterSum(warren, 'warren_health_check_outcomes_total', { check: 'mirror-sync', outcome: 'passed' }),
    ).toBe(0);
    expect(await counterSum(warren, 'warren_health_checks_skipped_total')).toBe(0);
  });
});
