/**
 * Quorum queue membership and leaders on RabbitMQ 4.0, fixed from the alerts through Slack: a quorum RPC queue
 * made by a real oslo.messaging 16 server (kolla layout) loses its member on one node (`rabbitmq-queues
 * delete_member`, what a reset node leaves); the quorum-members alert names the queue, its service and the node; its
 * Fix… (grow-quorum-queues), approved by a second person, adds the member back and the alert resolves in place.
 * Then leaders piled on one node (quorum queues declared through it with `client-local`, as many as the queues
 * already there need) raise master-imbalance, whose Fix… (rebalance-quorum-leaders) spreads them.
 * 4.0 only (project integration-4.0): oslo 16's quorum layout and the quorum replica endpoints the workflows use
 * exist on 4.0 and not on 3.10.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { pileUpSize } from '../support/leader-pileup.js';
import { type OsloAgent, osloLockPath, startOsloAgent } from '../support/oslo-agent.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { click, flushHarnessRedis, harnessKeys, SWEEPING_YAML, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('rabbitmq-4.0-quorum-members');
const ALERT_TIMEOUT = 60_000;
const YAML = `${SWEEPING_YAML}
  thresholds:
    masterImbalanceMinQueues: 6
access:
  operators: [U0OPERATOR]
  approvers: [U0APPROVER]
`;

describe('quorum members and leaders on RabbitMQ 4.0, fixed through Slack', () => {
  const desc = inject('stack');
  const [node1, , node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const agents: OsloAgent[] = [];
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  const management = () => stackManagement(desc);

  /** The last call the fake has recorded so far: later waits look only past it. */
  const lastSeq = () => fake.calls.at(-1)?.seq ?? 0;

  /**
   * The alert's message as posted, or edited while firing, after call `since`: an earlier test may have raised and
   * resolved the same alert id (the cluster's queues are shared), so an old post must not count.
   */
  async function alertFor(alertId: string, needles: string[], since = 0): Promise<RecordedCall> {
    const matches = (c: RecordedCall) => {
      const blocks = JSON.stringify(c.params.blocks);
      return (
        c.seq > since &&
        c.params.channel === 'C0ALERTS' &&
        !c.params.thread_ts &&
        !String(c.params.text).startsWith('RESOLVED') &&
        blocks.includes(`alert \`${alertId}\``) &&
        needles.every((n) => blocks.includes(n))
      );
    };
    return Promise.any([
      fake.waitForCall('chat.postMessage', matches, ALERT_TIMEOUT),
      fake.waitForCall('chat.update', matches, ALERT_TIMEOUT),
    ]).catch((error: AggregateError) => {
      throw new Error(error.errors.map((e: Error) => e.message).join('\n'));
    });
  }

  /** The Slack ts of an alert's message, from its post or an edit of it. */
  const tsOf = (call: RecordedCall) =>
    call.method === 'chat.update' ? String(call.params.ts) : (call.reply as { ts: string }).ts;

  async function resolvedEdit(alert: RecordedCall, since: number): Promise<void> {
    await fake.waitForCall(
      'chat.update',
      (c) => c.seq > since && c.params.ts === tsOf(alert) && String(c.params.text).startsWith('RESOLVED'),
      ALERT_TIMEOUT,
    );
  }

  /** Fix… on the alert as the operator, Approve as someone else; returns the run's request message. */
  async function fixAndApprove(alertId: string, needle: string): Promise<RecordedCall> {
    const requested = await click(warren, fake, {
      user: 'U0OPERATOR',
      actionId: 'warren:alert:fix',
      value: alertId,
      channel: 'C0ALERTS',
    });
    const runId = /run `(r-[0-9a-f]{8})`/.exec(String(requested.text))?.[1];
    expect(runId, String(requested.text)).toBeDefined();
    const request = await fake.waitForCall(
      'chat.postMessage',
      (c) => !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(runId as string),
      ALERT_TIMEOUT,
    );
    expect(JSON.stringify(request.params.blocks)).toContain(needle);
    const approved = await click(warren, fake, {
      user: 'U0APPROVER',
      actionId: 'warren:run:approve',
      value: runId as string,
      channel: 'C0ALERTS',
      messageTs: (request.reply as { ts: string }).ts,
    });
    expect(String(approved.text)).toMatch(/You approved/);
    return request;
  }

  beforeAll(async () => {
    expect(desc.rabbitmq.series).toBe('4.0');
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    // the RPC server's durable quorum queues and its queue manager's fanout (which expires only after 30 min)
    await deleteQueuesMatching(desc, /^compute($|\.qm-|_fanout_qm-)/);
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('a quorum RPC queue that lost its member on a node is alerted, grown back by its Fix…, and resolves', async () => {
    const server = `qm-${randomUUID().slice(0, 6)}`;
    const kolla = ['--quorum', '--transient-quorum', '--queue-manager', '--lock-path', osloLockPath(desc)];
    const agent = startOsloAgent(desc, [
      'rpc-server',
      '--topic',
      'compute',
      '--server',
      server,
      '--hostname',
      server,
      '--processname',
      'nova-compute',
      ...kolla,
    ]);
    agents.push(agent);
    await agent.ready;
    const queue = `compute.${server}`;
    expect((await freshQueue(management(), '/', queue))?.members).toHaveLength(3);

    const [tool, ...prefix] = desc.rabbitmq.rabbitmqQueues as [string, ...string[]];
    await promisify(execFile)(tool, [...prefix, '-n', node1, 'delete_member', '-p', '/', queue, node3], {
      env: { ...process.env, HOME: desc.cookieHome },
    });
    await waitUntil(
      async () => (await freshQueue(management(), '/', queue))?.members?.includes(node3) === false,
      'the member on node 3 to be gone',
      30_000,
    );

    const post = await alertFor('quorum-members@default', [queue, node3, 'nova-compute']);
    expect(String(post.params.text)).toMatch(/^WARNING/);
    const fixedAt = lastSeq();
    await fixAndApprove('quorum-members@default', queue);
    await resolvedEdit(post, fixedAt);
    const grown = await freshQueue(management(), '/', queue);
    expect(grown?.members).toContain(node3);
    expect(grown?.online).toContain(grown?.leader);
  }, 180_000);

  it('leaders piled on one node are alerted, and rebalance-quorum-leaders spreads them', async () => {
    // The check counts every queue of the cluster, and earlier files of the 4.0 run leave queues behind, spread
    // over the nodes: the pile-up is sized from the leaders there are now, so that node 1 leads more than twice
    // its fair share (the default threshold) whatever came before.
    const count = await pileUpSize(management(), node1, 9);
    expect(count, 'queues to declare for a pile-up').toBeLessThan(400);
    const prefix = `warren-led-${randomUUID().slice(0, 6)}`;
    const queues = Array.from({ length: count }, (_, i) => `${prefix}.${i}`);
    const channel = await amqp.createChannel();
    const since = lastSeq();
    try {
      // Declared through node 1 with client-local: node 1 leads them all.
      for (const q of queues) {
        await channel.assertQueue(q, {
          durable: true,
          arguments: { 'x-queue-type': 'quorum', 'x-queue-leader-locator': 'client-local' },
        });
      }
      const alert = await alertFor('master-imbalance@default', [node1], since);
      const fixedAt = lastSeq();
      await fixAndApprove('master-imbalance@default', node1);
      await resolvedEdit(alert, fixedAt);
      const leaders = await Promise.all(queues.map(async (q) => (await freshQueue(management(), '/', q))?.leader));
      expect(new Set(leaders).size).toBeGreaterThan(1);
    } finally {
      for (const q of queues) await channel.deleteQueue(q).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  }, 180_000);
});
