/**
 * The whole-cluster restart order on the real cluster (runbook 1.6): the three nodes are stopped one after the other,
 * warren's node-down alert names each as it goes and, once no management URL answers, says to start the last one
 * first. Then the nodes are started in the wrong order, as a hurried operator would: the first-stopped node waits in
 * its boot for the last-stopped one, which boots on its own when started as the alert says; the cluster comes back
 * whole and the alert resolves in place. Then the same stop in another order, brought back by the alert's Fix…:
 * start-cluster, approved by two people other than the requester, starts the nodes in the order warren recorded.
 * Then the node that stopped last is lost (its VM killed, its host's directory removed): the alert's Fix…
 * (start-cluster) fails at that node and names force-boot, which boots the next one without it, the first one syncs
 * from that, and the lost node joins again afresh.
 * Then a boot left hung: after a whole stop the first-stopped node alone is started and waits for its peers; the
 * boot-hang alert names it and the node to start first, and its Fix… (start-cluster) starts the others in the
 * recorded order, the hung boot finishing on its own. Then a boot hung while its peers run (its global name server
 * suspended, so the boot's global sync never returns): its Fix… ends the VM and starts it again. Last, a node's VM
 * killed while the others run is started again through node control's service templates (the devstack's stand-in
 * for systemd).
 */

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LocalStack } from '../../src/devstack/index.js';
import { StopOrderStore } from '../../src/health/stop-order.js';
import type { Warren } from '../../src/warren.js';
import { clusterHealthy, rejoinAfresh, restoreCluster } from '../support/cluster-health.js';
import { onWholeCluster, stackDescriptionFile } from '../support/damage-harness.js';
import type { FakeSlack, RecordedCall } from '../support/fake-slack.js';
import { stackClusterYaml } from '../support/stack-env.js';
import { waitUntil } from '../support/wait-until.js';
import { approveRun, click, harnessKeys, SWEEPING_YAML, slash } from '../support/warren-harness.js';

const KEYS = harnessKeys('health-stop-order');
const ALERTS = 'C0ALERTS';
const OPERATOR = 'U0OPERATOR';
const APPROVER_A = 'U0ANNA';
const APPROVER_B = 'U0BORIS';
const ALERT_WAIT_MS = 60_000;

describe('the whole-cluster restart order', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  /** Node 3 has lost its data and not joined again yet. */
  let destroyed = false;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];

  const service = stackDescriptionFile(desc);

  const yaml = `${stackClusterYaml(desc, { name: 'default', serviceDescription: service.path })}${SWEEPING_YAML}
  thresholds:
    bootHang: 5s
access:
  operators: [${OPERATOR}]
  approvers: [${OPERATOR}, ${APPROVER_A}, ${APPROVER_B}]
`;

  const blocksOf = (call: RecordedCall) => JSON.stringify(call.params.blocks);
  const lastSeq = () => fake.calls.at(-1)?.seq ?? 0;

  /** Stops the nodes one by one, each once the node-down alert names it; the alert's ts. */
  async function stopInOrder(nodes: readonly string[]): Promise<string> {
    const since = lastSeq();
    const [head, ...rest] = nodes as [string, ...string[]];
    expect((await stack.rabbitmqctl(head, ['stop_app'])).code).toBe(0);
    // Posted, or edited while firing: the alert may first say the node's management API stopped answering.
    const named = (c: RecordedCall) =>
      c.seq > since &&
      !c.params.thread_ts &&
      !String(c.params.text).startsWith('RESOLVED') &&
      blocksOf(c).includes('alert `node-down@default`') &&
      blocksOf(c).includes(`\`${head}\` is not running`);
    const alert = await Promise.any([
      fake.waitForCall('chat.postMessage', named, ALERT_WAIT_MS),
      fake.waitForCall('chat.update', named, ALERT_WAIT_MS),
    ]).catch((error: AggregateError) => {
      throw new Error(error.errors.map((e: Error) => e.message).join('\n'));
    });
    const ts = alert.method === 'chat.update' ? String(alert.params.ts) : (alert.reply as { ts: string }).ts;
    for (const node of rest) {
      expect((await stack.rabbitmqctl(node, ['stop_app'])).code).toBe(0);
      // Once all are down no URL answers: the last one is named in the start order instead.
      const needle = node === rest.at(-1) ? `start \`${node}\` first` : `\`${node}\` is not running`;
      await edited(ts, needle);
    }
    return ts;
  }

  const edited = (ts: string, needle: string) =>
    fake.waitForCall('chat.update', (c) => c.params.ts === ts && blocksOf(c).includes(needle), ALERT_WAIT_MS);

  /**
   * The run a Fix… click or `/rabbit fix` answer started: its request message, and the approvals in turn (each
   * answer checked), after which the run must end Done and verified.
   */
  async function requestedRun(answer: Record<string, unknown>) {
    const runId = /run `(r-[0-9a-f]{8})`/.exec(String(answer.text))?.[1] as string;
    expect(runId, String(answer.text)).toBeDefined();
    const post = await fake.waitForCall(
      'chat.postMessage',
      (c) => !c.params.thread_ts && blocksOf(c).includes(runId),
      ALERT_WAIT_MS,
    );
    const approveAll = async (approvals: [string, RegExp][], ending = /^Done and verified/) => {
      for (const [user, said] of approvals) {
        expect(String((await approveRun(warren, fake, { user, runId, post, channel: ALERTS })).text)).toMatch(said);
      }
      const done = await fake.waitForCall(
        'chat.update',
        (c) =>
          c.params.ts === (post.reply as { ts: string }).ts && /^(Done|Failed|Aborted)/.test(String(c.params.text)),
        300_000,
      );
      const said = `${done.params.text}\n${blocksOf(done)}`;
      expect(said).toMatch(ending);
      return said;
    };
    return { post, approveAll };
  }

  /** A new alert posted after call `since`, naming `needle`. */
  const posted = (since: number, alertId: string, needle: string) =>
    fake.waitForCall(
      'chat.postMessage',
      (c) =>
        c.seq > since &&
        !c.params.thread_ts &&
        blocksOf(c).includes(`alert \`${alertId}\``) &&
        blocksOf(c).includes(needle),
      ALERT_WAIT_MS,
    );

  /** The operator clicks the alert's Fix…. */
  const fixFromAlert = (alertId: string) =>
    click(warren, fake, { user: OPERATOR, actionId: 'warren:alert:fix', value: alertId, channel: ALERTS });

  const resolved = (ts: string) =>
    fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      ALERT_WAIT_MS,
    );

  beforeAll(async () => {
    ({ stack, fake, warren } = await onWholeCluster(desc, yaml, KEYS));
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    if (stack && destroyed) {
      await stack.rabbitmqctl(node2, ['force_boot']);
      for (const node of [node2, node1]) await stack.rabbitmqctl(node, ['start_app'], { timeoutMs: 120_000 });
      await rejoinAfresh(desc, stack, node3, node1);
    }
    for (const node of [node3, node2, node1]) await stack?.rabbitmqctl(node, ['start_app'], { timeoutMs: 120_000 });
    if (stack) await restoreCluster(desc, stack);
    service.remove();
  }, 600_000);

  it('names the last node to stop as the one to start first, and the cluster comes back in that order', async () => {
    const ts = await stopInOrder([node1, node2, node3]);
    const order = await edited(ts, `start \`${node3}\` first`);
    expect(blocksOf(order)).toMatch(
      new RegExp(`Last seen running, in order: \`${node1}\` [^,]+, \`${node2}\` [^,]+, \`${node3}\``),
    );

    // The wrong order first: node 1 stopped first, so its boot waits for the node that stopped last.
    const firstStopped = stack.rabbitmqctl(node1, ['start_app'], { timeoutMs: 300_000 });
    expect((await stack.rabbitmqctl(node3, ['start_app'], { timeoutMs: 120_000 })).code).toBe(0);
    expect((await firstStopped).code).toBe(0);
    expect((await stack.rabbitmqctl(node2, ['start_app'], { timeoutMs: 120_000 })).code).toBe(0);
    await waitUntil(() => clusterHealthy(desc), 'every node running together', 120_000);
    await resolved(ts);
  }, 600_000);

  it("is brought back by the alert's Fix…: start-cluster, approved by two others, in the order warren recorded", async () => {
    const ts = await stopInOrder([node2, node3, node1]);
    const { post, approveAll } = await requestedRun(await fixFromAlert('node-down@default'));
    expect(blocksOf(post)).toContain(`in this order: \`${node1}\`, \`${node3}\`, \`${node2}\``);
    await approveAll([
      [OPERATOR, /two-person rule/],
      [APPROVER_A, /needs one more approver/],
      [APPROVER_B, /You approved/],
    ]);
    await resolved(ts);
    expect(await clusterHealthy(desc)).toBe(true);
  }, 600_000);

  it('boots a survivor with force-boot when the node that stopped last is lost, after two approvers', async () => {
    const ts = await stopInOrder([node1, node2, node3]);
    destroyed = true;
    // Its host is gone: the alert's Fix… (start-cluster) fails at its first step and names force-boot's way out.
    await stack.loseNode(node3);
    const start = await requestedRun(await fixFromAlert('node-down@default'));
    expect(blocksOf(start.post)).toContain(`in this order: \`${node3}\`, \`${node2}\`, \`${node1}\``);
    const failed = await start.approveAll(
      [
        [APPROVER_A, /needs one more approver/],
        [APPROVER_B, /You approved/],
      ],
      /^Failed/,
    );
    expect(failed).toContain(`/rabbit fix force-boot ${node2} --lost ${node3}`);
    // Nothing was started: the step after the failed one is not run.
    for (const node of [node1, node2]) {
      expect((await stack.rabbitmqctl(node, ['eval', 'rabbit:is_running().'])).stdout.trim()).toBe('false');
    }
    // An empty node 3 (its data lost), for the new member it becomes below.
    await stack.destroyNode(node3);
    await edited(ts, `/rabbit fix force-boot ${node2} --lost ${node3}`);
    const reply = await slash(warren, fake, OPERATOR, `fix force-boot ${node2} --lost ${node3}`, ALERTS);
    const { post, approveAll } = await requestedRun(reply);
    expect(blocksOf(post)).toContain('boots with the cluster state it had when it stopped');
    await approveAll([
      [APPROVER_A, /needs one more approver/],
      [APPROVER_B, /You approved/],
    ]);
    // Node 1 stopped first: it now syncs from node 2 and boots. Node 3 comes back as a new member.
    expect((await stack.rabbitmqctl(node1, ['start_app'], { timeoutMs: 120_000 })).code).toBe(0);
    await rejoinAfresh(desc, stack, node3, node1);
    destroyed = false;
    await waitUntil(() => clusterHealthy(desc), 'every node running together', 120_000);
    await resolved(ts);
  }, 600_000);

  it('names a boot hung waiting for its peers, and its Fix… starts them in the recorded order', async () => {
    const ts = await stopInOrder([node1, node2, node3]);
    const since = lastSeq();
    // The first-stopped node alone: its boot waits for its peers (up to 10 tries of 30 s).
    const hung = stack.rabbitmqctl(node1, ['start_app'], { timeoutMs: 300_000 });
    const alert = await posted(
      since,
      'boot-hang@default',
      `\`${node1}\` is hung in its boot, waiting for its peers: start \`${node3}\` first`,
    );
    const { post, approveAll } = await requestedRun(await fixFromAlert('boot-hang@default'));
    expect(blocksOf(post)).toContain(`in this order: \`${node3}\`, \`${node2}\`, \`${node1}\``);
    expect(blocksOf(post)).toContain(`\`${node1}\` is booting already: wait for it to finish`);
    await approveAll([
      [APPROVER_A, /needs one more approver/],
      [APPROVER_B, /You approved/],
    ]);
    expect((await hung).code).toBe(0);
    await resolved((alert.reply as { ts: string }).ts);
    await resolved(ts);
    expect(await clusterHealthy(desc)).toBe(true);
  }, 600_000);

  it('ends a boot hung while its peers run (a stalled global sync) by restarting its VM, after two approvers', async () => {
    const since = lastSeq();
    expect((await stack.rabbitmqctl(node2, ['stop_app'])).code).toBe(0);
    // RabbitMQ's boot waits for `global:sync()` (rabbit_mnesia:init), the call the "global hang workaround" of 3.x
    // watches: with the node's global name server suspended it never returns, as in that hang. A process of the
    // node's own holds the suspension (it would end with the eval's process otherwise) until the VM ends.
    const suspended = await stack.rabbitmqctl(node2, [
      'eval',
      'spawn(fun() -> erlang:suspend_process(whereis(global_name_server)), receive never -> ok end end), ok.',
    ]);
    expect(suspended.code, suspended.stderr).toBe(0);
    const hung = stack.rabbitmqctl(node2, ['start_app'], { timeoutMs: 300_000 });
    const alert = await posted(since, 'boot-hang@default', `\`${node2}\` is hung in its boot while`);
    expect(blocksOf(alert)).toContain('does not end by itself');
    const { post, approveAll } = await requestedRun(await fixFromAlert('boot-hang@default'));
    expect(blocksOf(post)).toContain(
      `end the VM of \`${node2}\`, hung in its boot while other nodes run, and start it again`,
    );
    await approveAll([
      [APPROVER_A, /needs one more approver/],
      [APPROVER_B, /You approved/],
    ]);
    // The start_app still waiting ends with the VM it asked; the VM started again boots without the suspension.
    expect((await hung).code).not.toBe(0);
    await resolved((alert.reply as { ts: string }).ts);
    expect(await clusterHealthy(desc)).toBe(true);
  }, 600_000);

  it("starts a node whose VM is down through node control's service templates", async () => {
    const since = lastSeq();
    await stack.killNode(node2);
    const down = await posted(since, 'node-down@default', node2);
    const reply = await slash(warren, fake, OPERATOR, 'fix start-cluster', ALERTS);
    const { post, approveAll } = await requestedRun(reply);
    expect(blocksOf(post)).toContain(`start the RabbitMQ service (its VM) of \`${node2}\``);
    await approveAll([
      [APPROVER_A, /needs one more approver/],
      [APPROVER_B, /You approved/],
    ]);
    await resolved((down.reply as { ts: string }).ts);
    expect(await clusterHealthy(desc)).toBe(true);
  }, 600_000);
});

describe('StopOrderStore on the real Redis', () => {
  const desc = inject('stack');
  const prefix = `test:stop-order:${randomUUID().slice(0, 8)}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(desc.redisUrl);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps the newest time each node was seen running, across replicas, and drops a node no longer listed', async () => {
    const one = new StopOrderStore(redis, prefix);
    const other = new StopOrderStore(redis, prefix);
    const all = (running: string[]) => ['a@h', 'b@h', 'c@h'].map((name) => ({ name, running: running.includes(name) }));
    await one.observe('prod', all(['a@h', 'b@h', 'c@h']), 1_000);
    await one.observe('prod', all(['b@h', 'c@h']), 2_000);
    // A replica whose sweep was slower saves an older view after the newer one: it must not win.
    await other.observe('prod', all(['a@h', 'b@h', 'c@h']), 1_500);
    await one.observe('prod', all(['c@h']), 3_000);
    expect(Object.fromEntries(await other.lastSeenRunning('prod'))).toEqual({
      'a@h': 1_500,
      'b@h': 2_000,
      'c@h': 3_000,
    });
    await one.observe(
      'prod',
      all(['c@h']).filter((n) => n.name !== 'a@h'),
      4_000,
    );
    expect(Object.fromEntries(await one.lastSeenRunning('prod'))).toEqual({ 'b@h': 2_000, 'c@h': 4_000 });
    expect(await one.lastSeenRunning('elsewhere')).toEqual(new Map());
  });
});
