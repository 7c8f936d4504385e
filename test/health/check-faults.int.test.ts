/**
 * Each health check against the real condition on the real 3-node cluster: the fault is produced for real (a
 * connection with 150 channels, heartbeats off, an RPC server killed with SIGKILL leaving its fanout queue, a
 * memory alarm, an unsynchronised mirror, a stopped node, a network partition), the alert arrives in the fake
 * Slack naming the culprit, and after the fault is undone the same message is edited to RESOLVED.
 * Faults that take the cluster apart run last and always put it back together.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type Channel, type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRpcServer } from '../../src/demo/rpc-server.js';
import { unsyncedMirror } from '../../src/demo/unsynced-mirror.js';
import {
  attachLocalStack,
  healPartition as healPartitionOf,
  type LocalStack,
  partitionViews,
} from '../../src/devstack/index.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import { cutPartition, restoreCluster, restoreWhenFinished } from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { click, flushHarnessRedis, harnessKeys, SWEEPING_YAML, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('health-check-faults');

const YAML = `${SWEEPING_YAML}
access:
  operators: [U0OPERATOR]
  approvers: [U0APPROVER]
`;

const ALERT_TIMEOUT = 60_000;

describe('health checks against real faults', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const management = () => stackManagement(desc);

  /** The alert's top-level post whose text or blocks mention `needle`. */
  async function alertFor(alertId: string, needle: string): Promise<RecordedCall> {
    return fake.waitForCall(
      'chat.postMessage',
      (c) =>
        c.params.channel === 'C0ALERTS' &&
        !c.params.thread_ts &&
        JSON.stringify(c.params.blocks).includes(`alert \`${alertId}\``) &&
        JSON.stringify(c.params.blocks).includes(needle),
      ALERT_TIMEOUT,
    );
  }

  async function resolvedEdit(post: RecordedCall): Promise<void> {
    const ts = (post.reply as { ts: string }).ts;
    await fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === ts && String(c.params.text).startsWith('RESOLVED'),
      ALERT_TIMEOUT,
    );
  }

  const healPartition = () => healPartitionOf(stack);

  /** What a missed alert needs explained: did sweeps run, how long did they take, what did the cluster report. */
  async function sweepDiagnostics(): Promise<string> {
    const registry = warren.metrics.registry;
    const metric = async (name: string) => (await registry.getSingleMetricAsString(name)).trim();
    return [
      `partition views now: ${JSON.stringify([...(await partitionViews(desc))])}`,
      await metric('warren_health_sweeps_total'),
      await metric('warren_health_sweep_seconds'),
      await metric('warren_health_management_errors_total'),
    ].join('\n');
  }

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    await restoreCluster(desc, stack);
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack: desc, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('channel leak: a connection holding 150 channels, named by its OpenStack service', async () => {
    const name = `nova-conductor:4242:${randomUUID()}`;
    const leaky = await connect(desc.nodes[1]?.amqpUrl as string, { clientProperties: { connection_name: name } });
    try {
      for (let i = 0; i < 150; i++) await leaky.createChannel();
      const post = await alertFor('channel-leak@default', 'nova-conductor');
      expect(JSON.stringify(post.params.blocks)).toContain('150');
      await leaky.close();
      await resolvedEdit(post);
    } finally {
      await leaky.close().catch(() => undefined);
    }
  });

  it('heartbeats: a connection that disabled them', async () => {
    const name = `neutron-dhcp-agent:777:${randomUUID()}`;
    const quiet = await connect(`${desc.nodes[2]?.amqpUrl}?heartbeat=0`, {
      clientProperties: { connection_name: name },
    });
    try {
      const post = await alertFor('heartbeats@default', 'neutron-dhcp-agent');
      await quiet.close();
      await resolvedEdit(post);
    } finally {
      await quiet.close().catch(() => undefined);
    }
  });

  it('zombie fanout queue: left by an RPC server killed with SIGKILL, fixed from the alert with a second approval', async () => {
    const topic = `warren-test-compute-${randomUUID().slice(0, 6)}`;
    const servers: ChildProcess[] = [];
    const startServer = async () => {
      const server = await startRpcServer(desc.nodes[0]?.amqpUrl as string, topic, { layout: 'fanout-only' });
      servers.push(server.child);
      return server;
    };
    let channel: Channel | undefined;
    try {
      const crashed = await startServer();
      const sibling = await startServer();
      crashed.child.kill('SIGKILL');
      channel = await amqp.createChannel();
      // Fanout casts keep arriving at both queues; only the sibling has a consumer.
      for (let i = 0; i < 20; i++) channel.publish(`${topic}_fanout`, '', Buffer.from('{"oslo.message":"{}"}'));
      const post = await alertFor('zombie-queues@default', crashed.queue);
      expect(JSON.stringify(post.params.blocks)).not.toContain(sibling.queue);
      // The whole loop: Fix… on the alert, approval by someone else, the queue deleted, the alert resolved.
      expect(JSON.stringify(post.params.blocks)).toContain('warren:alert:fix');
      const requested = await click(warren, fake, {
        user: 'U0OPERATOR',
        actionId: 'warren:alert:fix',
        value: 'zombie-queues@default',
        channel: 'C0ALERTS',
      });
      const runId = /run `(r-[0-9a-f]{8})`/.exec(String(requested.text))?.[1] as string;
      expect(runId).toBeDefined();
      const request = await fake.waitForCall(
        'chat.postMessage',
        (c) => !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(runId),
        ALERT_TIMEOUT,
      );
      expect(JSON.stringify(request.params.blocks)).toContain(crashed.queue);
      const approved = await click(warren, fake, {
        user: 'U0APPROVER',
        actionId: 'warren:run:approve',
        value: runId,
        channel: 'C0ALERTS',
        messageTs: (request.reply as { ts: string }).ts,
      });
      expect(String(approved.text)).toMatch(/You approved/);
      await resolvedEdit(post);
      expect(await freshQueue(management(), '/', sibling.queue)).toBeDefined();
    } finally {
      for (const child of servers) child.kill('SIGKILL');
      await channel?.close().catch(() => undefined);
    }
  });

  it('memory alarm: raised on one node with a tiny watermark, cleared by restoring it', async () => {
    try {
      const set = await stack.rabbitmqctl(node2, ['set_vm_memory_high_watermark', '0.0001']);
      expect(set.code).toBe(0);
      const post = await alertFor('alarms@default', node2);
      expect(post.params.text).toMatch(/^CRITICAL/);
      await stack.rabbitmqctl(node2, ['set_vm_memory_high_watermark', '0.4']);
      await resolvedEdit(post);
    } finally {
      await stack.rabbitmqctl(node2, ['set_vm_memory_high_watermark', '0.4']);
    }
  });

  // RabbitMQ 4.0 removed classic mirroring (it refuses ha-* policies): there is no mirror to leave unsynchronised.
  it.skipIf(!desc.rabbitmq.series.startsWith('3.'))(
    'unsynchronised mirror: messages published before a new mirror joined under manual sync (3.x only)',
    async () => {
      // A third mirror joined after the messages: it stays unsynchronised until an explicit sync.
      const mirror = await unsyncedMirror(desc, stack, amqp, 'warren-test-ha');
      const { queue } = mirror;
      try {
        const post = await alertFor('mirror-sync@default', queue);
        expect(JSON.stringify(post.params.blocks)).toContain(node3);
        expect((await stack.rabbitmqctl(node1, ['sync_queue', queue])).code).toBe(0);
        await resolvedEdit(post);
      } finally {
        await mirror.remove();
      }
    },
  );

  it('node down: the rabbit application stopped on one node, then started again', async () => {
    restoreWhenFinished(desc, stack, () => stack.rabbitmqctl(node3, ['start_app']));
    expect((await stack.rabbitmqctl(node3, ['stop_app'])).code).toBe(0);
    const post = await alertFor('node-down@default', node3);
    expect(post.params.text).toMatch(/^CRITICAL/);
    expect((await stack.rabbitmqctl(node3, ['start_app'])).code).toBe(0);
    await resolvedEdit(post);
  }, 180_000);

  it('network partition: made with erlang:disconnect_node (3.x) or a frozen node (4.x), healed by restarting the minority side', async () => {
    restoreWhenFinished(desc, stack);
    await cutPartition(stack, node1, node2);
    const post = await alertFor('network-partition@default', node2).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await sweepDiagnostics()}`);
    });
    expect(post.params.text).toMatch(/^CRITICAL/);
    await healPartition();
    await resolvedEdit(post);
  }, 300_000);
});
