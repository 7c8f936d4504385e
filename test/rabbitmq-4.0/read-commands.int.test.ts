/**
 * The read commands on RabbitMQ 4.0 with the queue layout OpenStack deploys since 2024.1, made by real oslo.messaging
 * 16 clients: a quorum RPC server with the queue manager, and two stream-fanout servers of one topic holding
 * thousands of casts. `queues` and `consumers` show the stream by what it retains (never "0 ready") and quorum
 * queues with members, online members and leader; one queue made under-replicated with `rabbitmq-queues
 * delete_member` shows it. `status` shows each node's RabbitMQ and Erlang version and the metadata store, and
 * nothing of mirrors; `partitions` names the store. 4.0 refuses a new policy with ha-* keys, so how `policies` marks
 * such keys kept from before is tested on JSON (test/commands/policies.test.ts).
 * 4.0 only (project integration-4.0): streams from oslo, transient quorum queues and oslo 16 do not exist on the 3.10
 * stack; test/commands/read-commands.int.test.ts runs the version-independent listings on both.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { managementAuthorization } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { askUntil as askUntilReady } from '../support/ask-until.js';
import { FakeSlack } from '../support/fake-slack.js';
import { type OsloAgent, osloLockPath, startOsloAgent } from '../support/oslo-agent.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('rabbitmq-4.0-read-commands');
const CASTS = 3000;
const STATS_WAIT_MS = 45_000;

const YAML = `
tap:
  enabled: false
health:
  enabled: false
`;

const run = promisify(execFile);

describe('read commands on RabbitMQ 4.0 with the kolla layout', () => {
  const stack = inject('stack');
  const id = randomUUID().slice(0, 6);
  const scheduler = `rd${id}-scheduler`;
  const compute = `rd${id}-compute`;
  const stream = `${scheduler}_fanout`;
  const policy = `rd${id}-mirror`;
  const agents: OsloAgent[] = [];
  let fake: FakeSlack;
  let warren: Warren;
  let policyAnswer: { status: number; body: string } | undefined;

  const management = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.nodes[0]?.managementUrl}${path}`, {
      ...init,
      headers: {
        authorization: managementAuthorization(stack),
        'content-type': 'application/json',
      },
    });

  const agent = (args: string[]): OsloAgent => {
    const started = startOsloAgent(stack, args);
    agents.push(started);
    return started;
  };

  async function ask(text: string): Promise<string> {
    return String((await slash(warren, fake, 'U0BOB', text)).text);
  }

  const askUntil = (text: string, ready: (answer: string) => boolean, what: string) =>
    askUntilReady(ask, text, ready, what, STATS_WAIT_MS);

  const lineOf = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(start));

  beforeAll(async () => {
    expect(stack.rabbitmq.series).toBe('4.0');
    await flushHarnessRedis(stack, KEYS);
    const kolla = ['--quorum', '--transient-quorum', '--queue-manager', '--lock-path', osloLockPath(stack)];
    const server = (topic: string, host: string, processname: string, more: string[] = []) =>
      agent([
        'rpc-server',
        '--topic',
        topic,
        '--server',
        host,
        '--hostname',
        host,
        '--processname',
        processname,
        ...kolla,
        ...more,
      ]);
    const servers = [
      server(compute, 'cmp-1', 'nova-compute'),
      server(scheduler, 'ctl-1', 'nova-scheduler', ['--stream-fanout']),
      server(scheduler, 'ctl-2', 'nova-scheduler', ['--stream-fanout']),
    ];
    await Promise.all(servers.map((s) => s.ready));
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
    await cast.done;
    // A mirroring policy left over from 3.x, on the compute topic's queues.
    const put = await management(`/api/policies/%2F/${policy}`, {
      method: 'PUT',
      body: JSON.stringify({
        pattern: `^${compute}`,
        definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' },
        'apply-to': 'queues',
        priority: 100,
      }),
    });
    policyAnswer = { status: put.status, body: await put.text() };
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  }, 180_000);

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    await management(`/api/policies/%2F/${policy}`, { method: 'DELETE' }).catch(() => undefined);
    // the servers' queues, the stream and the queue manager's transient queues (which expire only after 30 min)
    await deleteQueuesMatching(stack, new RegExp(`^rd${id}-`));
  });

  it('shows the stream fanout by what it retains, and quorum queues with members, online members and leader', async () => {
    const text = await askUntil(
      `queues rd${id}-*`,
      (t) =>
        lineOf(t, `\`${stream}\``)?.includes(`${CASTS.toLocaleString('en-US')} messages`) === true &&
        lineOf(t, `\`${stream}\``)?.includes('2 consumers') === true,
      'the stream with its casts and both readers',
    );
    // rabbitN@localhost, or rabbitN-<suffix>@localhost when another stack held the plain names
    const leader = '`rabbit\\d(-[0-9a-f]+)?@localhost`';
    expect(lineOf(text, `\`${stream}\``)).toMatch(
      new RegExp(
        `^\`${stream}\` · stream · 3,000 messages retained in \\d+ segments? \\(not a backlog\\) · 2 consumers · ` +
          `3/3 online, leader ${leader}$`,
      ),
    );
    expect(text).not.toMatch(new RegExp(`${stream}\` · stream · 0 ready`));
    // Biggest first: the stream's retained casts put it on top.
    expect(text.split('\n')[1]).toContain(`\`${stream}\``);
    // Both scheduler servers consume the topic queue; one server each its own.
    for (const [queue, consumers] of [
      [compute, '1 consumer'],
      [`${compute}.cmp-1`, '1 consumer'],
      [scheduler, '2 consumers'],
    ]) {
      expect(lineOf(text, `\`${queue}\` `)).toMatch(
        new RegExp(
          `^\`${queue?.replace('.', '\\.')}\` · quorum · 0 ready, 0 unacked · ${consumers} · 3/3 online, leader ${leader}$`,
        ),
      );
    }
    // The queue manager's names, transient quorum queues with oslo's x-expires.
    expect(lineOf(text, `\`${compute}_fanout_cmp-1:nova-compute:`)).toMatch(/ · quorum · .* · 3\/3 online, leader /);
  });

  it('shows a quorum queue that lost a member as under-replicated', async () => {
    // A follower is removed: removing the leader would add an election, during which the queue is listed as down.
    const { leader } = (await (await management(`/api/queues/%2F/${compute}?columns=leader`)).json()) as {
      leader: string;
    };
    const follower = stack.nodes.map((n) => n.name).find((n) => n !== leader) as string;
    const [queues, ...prefix] = stack.rabbitmq.rabbitmqQueues as [string, ...string[]];
    await run(queues, [...prefix, '-n', leader, 'delete_member', '--vhost', '/', compute, follower], {
      env: { ...process.env, HOME: stack.cookieHome },
      timeout: 60_000,
    });
    const expected = new RegExp(
      `^\`${compute}\` · quorum · 0 ready, 0 unacked · 1 consumer · ` +
        `\\*under-replicated: 2/2 online, 2 members for 3 nodes\\*, leader \`${leader}\`$`,
    );
    const text = await askUntil(
      `queues ${compute}`,
      (t) => expected.test(lineOf(t, `\`${compute}\``) ?? ''),
      'the queue listed with 2 members on 3 nodes',
    );
    expect(lineOf(text, `\`${compute}\``)).toMatch(expected);
  });

  it("lists a stream's readers as up, with its retained size instead of a backlog", async () => {
    const text = await askUntil(
      `consumers ${stream}`,
      (t) => t.startsWith('*2 consumers*') && t.includes('3,000 messages'),
      'both stream readers in the statistics',
    );
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\*2 consumers\\* of \`${stream}\` \\(vhost \`/\`\\) on \`default\` · 3,000 messages retained in \\d+ segments? ` +
          '\\(not a backlog\\) · 3/3 online, leader `rabbit',
      ),
    );
    expect(lines).toHaveLength(3);
    for (const line of lines.slice(1)) {
      expect(line).toMatch(/ · prefetch \d+ · manual ack$/);
      expect(line).not.toContain('waiting');
    }
  });

  it("shows each node's RabbitMQ and Erlang version and the metadata store, and nothing of mirrors", async () => {
    const text = await ask('status');
    expect(text).toContain('3/3 nodes running, no partitions, no alarms');
    expect(text).toMatch(/\nRabbitMQ 4\.0\.\d+, metadata store Mnesia\n/);
    const nodeLines = text.split('\n').filter((l) => l.startsWith(':large_green_circle: `'));
    expect(nodeLines).toHaveLength(3);
    for (const line of nodeLines) expect(line).toMatch(/ · RabbitMQ 4\.0\.\d+ · Erlang 27\.[\d.]+$/);
    expect(text).not.toMatch(/mirror/i);
  });

  it('names the metadata store with the partition view', async () => {
    const text = await ask('partitions');
    expect(text.split('\n')[0]).toBe(
      '*Partitions of `default`*: :large_green_circle: No partitions · 3/3 nodes running · metadata store Mnesia',
    );
  });

  it('refuses ha-* policy keys on 4.0, so only a policy kept from before shows them (unit-tested)', () => {
    expect(policyAnswer?.status).toBe(400);
    expect(policyAnswer?.body).toMatch(/ha-mode|ha-sync-mode/);
  });
});
