/**
 * The remediation workflows against the real 3-node cluster, each planned and then run by the engine's own executor
 * (RunExecutor: guard and execute per step, then verify; runs stored in the stack's Redis) with a real WorkflowContext: real management API, node control through
 * rabbitmqctl, default health and remediation config. The faults are real: an unsynchronised mirror, a missing
 * expiry policy, a zombie fanout queue, a partition (cutPartition: erlang:disconnect_node on 3.x, a node frozen past
 * net_ticktime on 4.x). On 4.0 the mirror test is skipped and the refusal tested instead. The partition test runs
 * last and, whatever happens, puts the cluster back together; every queue and policy made here is removed.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { unsyncedMirror } from '../../src/demo/unsynced-mirror.js';
import { attachLocalStack, type LocalStack } from '../../src/devstack/index.js';
import { ManagementApiError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { policySchema } from '../../src/management/schemas.js';
import type { NewAuditEntry } from '../../src/remediation/audit-log.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import { CommandNodeControl } from '../../src/remediation/node-control.js';
import { RunExecutor } from '../../src/remediation/run-executor.js';
import { RunStore } from '../../src/remediation/run-store.js';
import type { PlannedAction, WorkflowContext, WorkflowDefinition } from '../../src/remediation/workflow-definition.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { deleteZombieQueuesWorkflow } from '../../workflows/delete-zombie-queues.js';
import { healPartitionWorkflow } from '../../workflows/heal-partition.js';
import { purgeQueueWorkflow } from '../../workflows/purge-queue.js';
import { syncMirrorsWorkflow } from '../../workflows/sync-mirrors.js';
import {
  clusterHealthy as clusterHealthyOf,
  cutPartition,
  restoreCluster,
  restoreWhenFinished,
  settledPartition,
} from '../support/cluster-health.js';
import { osloLockPath, startOsloAgent } from '../support/oslo-agent.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { nodeControlCommand } from '../support/stack-env.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { workflowArgs } from '../support/workflow-args.js';
import { deleteZombies, makeZombie, type Zombie } from '../support/zombie-queue.js';

describe('remediation workflows against the real cluster', () => {
  const desc = inject('stack');
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  let stack: LocalStack;
  let amqp: ChannelModel;
  let redis: Redis;
  let runs: RunStore;

  const management = stackManagement(desc, 'local');
  const context: WorkflowContext = {
    cluster: 'local',
    vhost: '/',
    management,
    // What a deployment configures as clusters[].nodeControl; HOME is where rabbitmqctl finds the stack's cookie.
    nodeControl: new CommandNodeControl({
      command: nodeControlCommand(desc),
      env: { HOME: desc.cookieHome },
      timeoutMs: 120_000,
    }),
    remediation: remediationSchema.parse({}),
    health: healthSchema.parse({}),
    runId: 'r-1e57f10e',
    requester: 'U0WORKFLOWTEST',
  };

  /**
   * A run as the engine does it: the workflow plans, then the engine's own executor (RunExecutor, on the stack's
   * Redis) runs each step behind its guard and the verification over what ran. Results are the steps' records.
   */
  async function run<A>(workflow: WorkflowDefinition<A>, argsText: string) {
    const args = workflowArgs(workflow, argsText);
    const plan = await workflow.plan(context, args);
    const audit: NewAuditEntry[] = [];
    const executor = new RunExecutor({
      store: runs,
      workflow: (name) => (name === workflow.name ? workflow : undefined),
      context: () => context,
      audit: async (entry) => {
        audit.push(entry);
      },
      refresh: async () => true,
      reply: async () => undefined,
      logger: createLogger('silent'),
      now: Date.now,
    });
    const id = `r-${randomBytes(4).toString('hex')}`;
    const lease = executor.newLease();
    await runs.create(
      {
        id,
        workflow: workflow.name,
        cluster: context.cluster,
        args: args as Record<string, unknown>,
        risk: workflow.risk,
        requester: context.requester,
        channel: 'C0WORKFLOWTEST',
        createdAt: Date.now(),
        approvalsNeeded: 0,
        plan,
      },
      'running',
      lease,
    );
    await executor.execute(id, lease);
    const stored = (await runs.get(id)) as WorkflowRun;
    const results = stored.steps.map((s) => (s.status === 'skipped' ? `skipped: ${s.detail}` : s.detail));
    const done = plan.actions.filter((a) => stored.steps.some((s) => s.key === a.key && s.status === 'done'));
    const verified = audit.find((e) => e.event === 'verified' || e.event === 'verification-failed');
    const verification = verified
      ? { ok: verified.event === 'verified', detail: verified.detail }
      : { ok: false, detail: `not verified: the run ended ${stored.status} (${stored.outcome ?? ''})` };
    return { args, plan, results, done, verification, status: stored.status };
  }

  const clusterHealthy = () => clusterHealthyOf(desc);

  async function policy(name: string) {
    try {
      return await management.get(`/api/policies/%2F/${encodeURIComponent(name)}`, policySchema);
    } catch (error) {
      if (error instanceof ManagementApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    // First: restoring may restart a node, which would drop a connection opened before.
    await restoreCluster(desc, stack);
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    redis = new Redis(desc.redisUrl);
    // Its own key prefix: the runs of this file never meet another file's on the shared Redis.
    runs = new RunStore(redis, `warren:test:workflows-int:${randomUUID().slice(0, 8)}:`);
  });

  afterAll(async () => {
    redis?.disconnect();
    await amqp?.close().catch(() => undefined);
  });

  const series = desc.rabbitmq.series;
  /** RabbitMQ 4.0 removed classic mirroring: no mirrors to make, sync or set a policy for. */
  const mirroring = series.startsWith('3.');

  it.skipIf(!mirroring)(
    'sync-mirrors: synchronises a mirror that joined after the messages, one blocked queue at a time (3.x only: 4.0 has no mirrors)',
    async () => {
      // A third mirror joined after the messages: under manual sync it stays unsynchronised until told.
      const mirror = await unsyncedMirror(desc, stack, amqp, 'warren-test-wf-sync');
      const { queue } = mirror;
      try {
        await waitUntil(
          async () => {
            const q = await freshQueue(management, '/', queue);
            return q?.slave_nodes?.includes(node3) && !q.synchronised_slave_nodes?.includes(node3);
          },
          `${node3} to join ${queue} as an unsynchronised mirror`,
          30_000,
        );

        const { plan, results, done, verification, args } = await run(syncMirrorsWorkflow, queue);
        expect(plan.actions.map((a) => a.key)).toEqual([`//${queue}`]);
        expect(plan.actions[0]?.data).toMatchObject({ name: queue, messages: 10, unsynchronised: [node3] });
        expect(plan.warnings[0]).toMatch(/^A sync BLOCKS its queue .* 10 message\(s\) to copy in all/);
        expect(results).toEqual([
          expect.stringMatching(new RegExp(`^synchronised 10 message\\(s\\) to \`${node3}\` in \\d+s$`)),
        ]);
        expect(verification).toEqual({ ok: true, detail: 'every mirror of 1 queue(s) is synchronised' });
        const synced = await freshQueue(management, '/', queue);
        expect([...(synced?.synchronised_slave_nodes ?? [])].sort()).toEqual([node2, node3].sort());
        // Idempotent: the guard now skips the queue, and executing again posts nothing new.
        expect(await syncMirrorsWorkflow.guard(context, done[0] as PlannedAction, args)).toEqual({
          reason: 'already synchronised',
          abort: false,
        });
        expect(await syncMirrorsWorkflow.execute(context, done[0] as PlannedAction, args)).toBe('already synchronised');
        await expect(run(syncMirrorsWorkflow, queue)).rejects.toThrow(/nothing to sync/);
      } finally {
        await mirror.remove();
      }
    },
    120_000,
  );

  it.skipIf(mirroring)('sync-mirrors and ha-* policies are refused on 4.0 with what replaces them', async () => {
    // The broker itself no longer knows the keys: a policy with ha-mode is refused.
    const name = `warren-test-wf-ha-${randomUUID().slice(0, 8)}`;
    const put = management.send('PUT', `/api/policies/%2F/${name}`, {
      data: { pattern: '^warren-test-wf-ha-nothing$', definition: { 'ha-mode': 'all' }, 'apply-to': 'queues' },
    });
    await expect(put).rejects.toMatchObject({ status: 400 });
    await management.send('DELETE', `/api/policies/%2F/${name}`).catch(() => undefined);

    await expect(run(syncMirrorsWorkflow, '')).rejects.toThrow(
      new RegExp(
        `^sync-mirrors is not applicable on RabbitMQ ${series.replace('.', '\\.')}: there are no mirrors to sync\\..*quorum queues`,
      ),
    );
    await expect(run(applyPolicyWorkflow, 'ha-mode')).rejects.toThrow(
      /^`ha-mode` is not applicable on RabbitMQ 4\.0\. Classic queue mirroring was removed .*`x-queue-type: quorum`.*`delivery-limit`.*`max-age`/,
    );
  });

  it('apply-policy: adds an expiry policy that the matching queue takes, then rolls it back', async () => {
    const id = randomUUID().slice(0, 8);
    const queue = `warren-test-wf-${id}_fanout_${randomBytes(16).toString('hex')}`;
    const name = `warren-test-wf-${id}-expiry`;
    const channel = await amqp.createChannel();
    try {
      await channel.assertQueue(queue, { durable: false });
      const { plan, results, done, verification, args } = await run(
        applyPolicyWorkflow,
        `expiry --pattern ^warren-test-wf-${id}_fanout_ --name ${name}`,
      );
      expect(plan.warnings[0]).toBe(`It applies at once to the 1 queue(s) that match now: \`${queue}\`.`);
      expect(plan.actions[0]?.data).toMatchObject({ name, definition: { expires: 1_800_000 }, samples: [queue] });
      expect(results).toEqual([`policy \`${name}\` set: {"expires":1800000} for \`^warren-test-wf-${id}_fanout_\``]);
      expect(verification).toEqual({
        ok: true,
        detail: `policy \`${name}\` is in place and \`${queue}\` report it as their policy`,
      });
      expect(await policy(name)).toMatchObject({ definition: { expires: 1_800_000 }, 'apply-to': 'queues' });
      // Idempotent, and a second request is refused as already in place.
      expect(await applyPolicyWorkflow.execute(context, done[0] as PlannedAction, args)).toBe(
        'already in place; nothing changed',
      );
      await expect(applyPolicyWorkflow.plan(context, args)).rejects.toThrow(/already in place/);

      expect(await applyPolicyWorkflow.rollback?.(context, done, args)).toBe(`policy \`${name}\`: deleted`);
      expect(await policy(name)).toBeUndefined();
      await waitUntil(
        async () => (await freshQueue(management, '/', queue))?.policy == null,
        `${queue} to lose the policy`,
        15_000,
      );
    } finally {
      await management.send('DELETE', `/api/policies/%2F/${encodeURIComponent(name)}`).catch(() => undefined);
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  });

  it('delete-zombie-queues: deletes the fanout queue a SIGKILLed RPC server left, not its live sibling', async () => {
    const servers: ChildProcess[] = [];
    const topic = `warren-test-wf-zombie-${randomUUID().slice(0, 6)}`;
    let made: Zombie | undefined;
    try {
      made = await makeZombie({ amqpUrl: desc.nodes[0]?.amqpUrl as string, amqp, management, topic, servers });
      const { plan, results, verification } = await run(deleteZombieQueuesWorkflow, `${topic}_fanout_*`);
      expect(plan.actions.map((a) => a.data.name)).toEqual([made.zombie]);
      expect(results).toHaveLength(1);
      expect(verification.ok).toBe(true);
      expect(await freshQueue(management, '/', made.zombie)).toBeUndefined();
      expect(await freshQueue(management, '/', made.sibling)).toBeDefined();
    } finally {
      for (const child of servers) child.kill('SIGKILL');
      await deleteZombies(amqp, made ? [made] : []);
    }
  });

  // 4.0 only: oslo 16's queue manager and transient quorum queues (whose delete refuses if-unused) are not on 3.10.
  it.skipIf(mirroring)(
    'delete-zombie-queues: deletes the quorum fanout queue of a queue-manager host that never came back',
    async () => {
      const topic = `wf-qm-${randomUUID().slice(0, 6)}`;
      const kolla = ['--quorum', '--transient-quorum', '--queue-manager', '--lock-path', osloLockPath(desc)];
      const server = startOsloAgent(desc, [
        'rpc-server',
        '--topic',
        topic,
        '--server',
        'retired-1',
        '--hostname',
        'retired-1',
        '--processname',
        'nova-conductor',
        ...kolla,
      ]);
      const zombie = `${topic}_fanout_retired-1:nova-conductor:1`;
      try {
        await server.ready;
        await server.stop('SIGKILL');
        await startOsloAgent(desc, ['cast', '--topic', topic, '--fanout', '--count', '3', ...kolla]).done;
        await waitUntil(
          async () => {
            const q = await freshQueue(management, '/', zombie);
            return q?.type === 'quorum' && q.messages === 3 && q.consumers === 0;
          },
          `${zombie} as a quorum queue holding the 3 casts, without its consumer`,
          30_000,
        );
        const { plan, results, verification } = await run(deleteZombieQueuesWorkflow, `${topic}_fanout_*`);
        expect(plan.actions.map((a) => a.data.name)).toEqual([zombie]);
        expect(results).toEqual(['deleted (it held 3 message(s))']);
        expect(verification.ok).toBe(true);
        expect(await freshQueue(management, '/', zombie)).toBeUndefined();
      } finally {
        await server.stop('SIGKILL');
        // the zombie, and the server's durable quorum queues `<topic>` and `<topic>.retired-1`
        await deleteQueuesMatching(desc, new RegExp(`^${topic}`));
      }
    },
  );

  it('purge-queue: empties a notifications queue nobody consumes', async () => {
    const queue = `warren-test-wf-purge.notifications.info.${randomUUID().slice(0, 6)}`;
    const channel = await amqp.createConfirmChannel();
    try {
      await channel.assertQueue(queue, { durable: false });
      for (let i = 0; i < 25; i++) channel.sendToQueue(queue, Buffer.from(`n${i}`));
      await channel.waitForConfirms();
      await waitUntil(
        async () => (await freshQueue(management, '/', queue))?.messages === 25,
        'the broker to count 25 messages',
        30_000,
      );
      const { plan, results, verification } = await run(purgeQueueWorkflow, queue);
      expect(plan.summary).toMatch(/25/);
      expect(results).toEqual(['purged']);
      expect(verification.ok).toBe(true);
      expect((await channel.checkQueue(queue)).messageCount).toBe(0);
    } finally {
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  });

  it('heal-partition: a real partition healed by restarting the nodes outside the side clients use', async () => {
    // Clients on node1 make its side the one to keep, whichever way the cut spreads.
    const clients: ChannelModel[] = [];
    onTestFinished(async () => {
      for (const client of clients) await client.close().catch(() => undefined);
    });
    restoreWhenFinished(desc, stack);
    for (let i = 0; i < 4; i++) {
      const client = await connect(desc.nodes[0]?.amqpUrl as string, {
        clientProperties: { connection_name: `nova-compute:${4000 + i}:${randomUUID()}` },
      });
      client.on('error', () => undefined);
      clients.push(client);
    }
    await cutPartition(stack, node1, node2);
    // A cut spreads for a few seconds (two sides or three): plan once the views have stopped changing.
    await settledPartition(desc);

    const { plan, results, verification } = await run(healPartitionWorkflow, '');
    const losers = plan.actions.filter((a) => a.data.phase === 'stop').map((a) => a.data.node as string);
    expect(losers.length).toBeGreaterThan(0);
    expect(losers).not.toContain(node1);
    // Started the last stopped first: the first stopped would wait in its boot for the others.
    expect(plan.actions.map((a) => a.key)).toEqual([
      ...losers.map((n) => `stop:${n}`),
      ...[...losers].reverse().map((n) => `start:${n}`),
    ]);
    expect(plan.actions[0]?.data.trusted).toContain(node1);
    expect(plan.summary).toMatch(new RegExp(`^heal a [23]-way partition: keep .*\`${node1}\``));
    expect(results).toEqual([
      ...losers.map((n) => `rabbit app stopped on \`${n}\``),
      ...[...losers]
        .reverse()
        .map((n) =>
          expect.stringMatching(new RegExp(`^rabbit app started on \`${n}\`; running with the trusted side after`)),
        ),
    ]);
    expect(verification).toEqual({ ok: true, detail: 'all 3 nodes run together and none reports a partition' });
    expect(await clusterHealthy()).toBe(true);
    // The clients on the trusted side were never disturbed.
    await (await clients[0]?.createChannel())?.close();
    await expect(run(healPartitionWorkflow, '')).rejects.toThrow(/nothing to heal/);
  }, 400_000);
});
