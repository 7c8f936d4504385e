/**
 * Streams and queue-manager names on RabbitMQ 4.0 with real oslo.messaging 16 clients in the kolla layout, judged
 * by the sweep's own fetcher and the pure checks, sweep after sweep:
 * - two stream-fanout servers of one topic with thousands of retained casts: no backlog, no stuck consumer, no
 *   zombie, and the stream checks silent;
 * - the stream loses its replica on a node (`rabbitmq-streams delete_replica`, as after a node reset): stream-replicas
 *   names the stream and that node, and repair-stream-replicas (through node control) adds it back;
 * - a queue-manager fanout whose server restarts (hard kill, new process group) takes its names again and is no
 *   zombie once back; one whose host never comes back is a zombie once it holds casts, naming its owner.
 * Also what 4.0 exposes about a stream consumer's offset: nothing, for the AMQP 0-9-1 consumers oslo uses.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { allChecks } from '../../src/health/checks/index.js';
import { type ClusterSnapshot, queueKey } from '../../src/health/cluster-snapshot.js';
import type { QueueSample } from '../../src/health/health-check.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { CommandNodeControl } from '../../src/remediation/node-control.js';
import type { PlannedAction, WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { repairStreamReplicasWorkflow } from '../../workflows/repair-stream-replicas.js';
import { type OsloAgent, osloLockPath, startOsloAgent } from '../support/oslo-agent.js';
import { deleteQueuesMatching } from '../support/queue-cleanup.js';
import { nodeControlCommand } from '../support/stack-env.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';

const CASTS = 3000;
const STREAM = 'warren-stream_fanout';
const health = healthSchema.parse({});

describe('streams and queue-manager names on RabbitMQ 4.0', () => {
  const desc = inject('stack');
  const management = stackManagement(desc, 'local');
  // As the sweep runs with clusters[].nodeControl: a stream whose stats list two sets of members after a replica
  // change is settled with `rabbitmq-streams stream_status`. No streamsCommand: the default, rabbitmq-streams
  // beside the configured rabbitmqctl, is what is tested.
  const nodeControl = new CommandNodeControl({
    command: nodeControlCommand(desc),
    env: { HOME: desc.cookieHome },
    timeoutMs: 60_000,
  });
  const fetcher = new SnapshotFetcher('local', management, { streamMembers: nodeControl });
  const agents: OsloAgent[] = [];
  const history = new Map<string, QueueSample[]>();
  let lock: string;

  const kolla = () => ['--quorum', '--transient-quorum', '--queue-manager', '--lock-path', lock];
  const agent = (args: string[], opts: { newProcessGroup?: boolean } = {}): OsloAgent => {
    const started = startOsloAgent(desc, args, opts);
    agents.push(started);
    return started;
  };
  const server = (topic: string, host: string, extra: string[] = [], opts: { newProcessGroup?: boolean } = {}) =>
    agent(
      ['rpc-server', '--topic', topic, '--server', host, '--hostname', host, '--processname', 'nova-compute']
        .concat(kolla())
        .concat(extra),
      opts,
    );
  const cast = (topic: string, count: number, extra: string[] = []) =>
    agent(['cast', '--topic', topic, '--fanout', '--count', String(count), ...kolla(), ...extra]).done;

  /** One sweep as the monitor runs it: a fresh snapshot, every check with the history of earlier sweeps. */
  async function sweep(): Promise<{ snapshot: ClusterSnapshot; found: Map<string, string[]> }> {
    const snapshot = await fetcher.fetch();
    const context = { thresholds: health.thresholds, history };
    const found = new Map(allChecks.map((c) => [c.id, c.evaluate(snapshot, context).map((f) => f.subject)]));
    for (const q of snapshot.queues ?? []) {
      if (q.messages === 0) continue;
      const samples = [...(history.get(queueKey(q)) ?? [])];
      samples.push({
        at: snapshot.takenAt,
        messages: q.messages,
        ready: q.messages_ready,
        unacked: q.messages_unacknowledged,
      });
      history.set(queueKey(q), samples.slice(-health.thresholds.growthSweeps));
    }
    return { snapshot, found };
  }

  beforeAll(async () => {
    expect(desc.rabbitmq.series).toBe('4.0');
    lock = osloLockPath(desc);
    const servers = [
      server('warren-stream', 'st-1', ['--stream-fanout']),
      server('warren-stream', 'st-2', ['--stream-fanout']),
      server('warren-qm-gone', 'gone-1'),
    ];
    await Promise.all(servers.map((s) => s.ready));
    await cast('warren-stream', CASTS, ['--stream-fanout']);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop('SIGKILL')));
    // The queues its oslo clients declared are durable quorum queues and a stream: left behind, the retired host's
    // fanout stays a zombie and every queue dilutes the later files' leader counts
    await deleteQueuesMatching(desc, /^warren-(stream|qm-)/);
  });

  it('never calls the stream fanout with thousands of retained casts a backlog, stuck consumer or zombie', async () => {
    const { snapshot } = await waitUntil(
      async () => {
        const s = await sweep();
        const stream = s.snapshot.queues?.find((q) => q.name === STREAM);
        return stream && s.snapshot.streams?.some((x) => x.name === STREAM) ? s : undefined;
      },
      'the stream in a sweep',
      20_000,
    );
    expect(snapshot.queues?.find((q) => q.name === STREAM)?.type).toBe('stream');
    for (let i = 0; i < 5; i++) {
      const { snapshot: s, found } = await sweep();
      expect(s.errors).toEqual({});
      for (const id of ['backlog', 'stuck-consumers', 'zombie-queues', 'stream-retention', 'stream-replicas']) {
        expect(found.get(id), `${id} on sweep ${i}`).not.toContain(`//${STREAM}`);
      }
      expect(found.get('zombie-queues')).toEqual([]);
    }
    // The stream holds the casts (its stats count them within a stats interval): retained data, which is why no
    // check may count it as work
    await waitUntil(
      async () =>
        ((await management.get(`/api/queues/%2F/${STREAM}`, z.looseObject({ messages: z.number().optional() })))
          .messages ?? 0) >= CASTS,
      'the stream to count the casts',
      15_000,
    );
  });

  it('exposes no offset of the AMQP 0-9-1 consumers oslo uses: neither the queue stats nor Prometheus', async () => {
    const stats = await management.get(
      `/api/queues/%2F/${STREAM}`,
      z.looseObject({ consumer_details: z.array(z.looseObject({ arguments: z.record(z.string(), z.unknown()) })) }),
    );
    expect(stats.consumer_details.length).toBe(2);
    for (const consumer of stats.consumer_details) {
      const keys = Object.keys(consumer).filter((k) => /offset|lag/i.test(k));
      expect(keys).toEqual([]);
      expect(Object.keys(consumer.arguments)).toEqual(['x-stream-offset']);
    }
    const metrics = await fetch(`${desc.nodes[0]?.prometheusUrl}/metrics/detailed?family=stream_consumer_metrics`);
    const text = metrics.ok ? await metrics.text() : '';
    expect(text.split('\n').filter((l) => l.startsWith('rabbitmq_detailed_stream_consumer'))).toEqual([]);
  });

  it('names the stream and the node it lost its replica on, and repair-stream-replicas adds it back', async () => {
    const node3 = desc.nodes[2]?.name as string;
    const context: WorkflowContext = {
      cluster: 'local',
      vhost: '/',
      management,
      nodeControl,
      remediation: remediationSchema.parse({}),
      health,
      runId: 'r-57ea3',
      requester: 'U0STREAMS',
    };
    await context.nodeControl?.run(desc.nodes[0]?.name as string, 'await_startup');
    const { execFileSync } = await import('node:child_process');
    const [file, ...args] = [...desc.rabbitmq.rabbitmqStreams, '-n', desc.nodes[0]?.name as string];
    const removed = execFileSync(file as string, [...args, 'delete_replica', STREAM, node3], {
      env: { ...process.env, HOME: desc.cookieHome },
      encoding: 'utf8',
    });
    const found = await waitUntil(
      async () => {
        const subjects = (await sweep()).found.get('stream-replicas') ?? [];
        return subjects.length > 0 ? subjects : undefined;
      },
      'stream-replicas to name the stream',
      20_000,
    ).catch(async (error: Error) => {
      const stats = await management.get(`/api/queues/%2F/${STREAM}`, z.unknown(), {
        columns: 'members,online,leader',
      });
      // what the broker itself says, next to what the management API said
      const status = execFileSync(file as string, [...args, 'stream_status', STREAM, '--formatter', 'json'], {
        env: { ...process.env, HOME: desc.cookieHome },
        encoding: 'utf8',
      });
      throw new Error(
        `${error.message}; delete_replica said ${removed}; the stream's stats: ${JSON.stringify(stats)}; stream_status: ${status}`,
      );
    });
    expect(found).toEqual([`//${STREAM}`]);
    const finding = allChecks
      .find((c) => c.id === 'stream-replicas')
      ?.evaluate(await fetcher.fetch(), { thresholds: health.thresholds, history: new Map() })[0];
    expect(finding?.data?.missing).toEqual([node3]);

    const plan = await repairStreamReplicasWorkflow.plan(context, {});
    expect(plan.actions.map((a) => a.key)).toEqual([`//${STREAM}@${node3}`]);
    const done: PlannedAction[] = [];
    for (const action of plan.actions) {
      expect(await repairStreamReplicasWorkflow.guard(context, action, {})).toBeUndefined();
      await repairStreamReplicasWorkflow.execute(context, action, {});
      done.push(action);
    }
    const verification = await repairStreamReplicasWorkflow.verify(context, done, {});
    expect(verification).toMatchObject({ ok: true });
    const after = await sweep();
    expect(after.found.get('stream-replicas')).toEqual([]);
    // judged, not skipped: the sweep knows the members, settled by the broker where the API listed two sets
    const stream = after.snapshot.streams?.find((x) => x.name === STREAM);
    expect(stream?.uncertain).toBeUndefined();
    expect(stream?.members).toContain(node3);
    // run again: nothing to repair
    await expect(repairStreamReplicasWorkflow.plan(context, {})).rejects.toThrow(/nothing to repair/);
  });

  it('a queue-manager fanout whose server restarts is no zombie; one whose host never comes back is, once it holds casts', async () => {
    const restarting = server('warren-qm-restart', 'rst-1', [], { newProcessGroup: true });
    await restarting.ready;
    const gone = agents.find((a) => a.output().includes('"server": "gone-1"')) as OsloAgent;
    await Promise.all([restarting.stop('SIGKILL'), gone.stop('SIGKILL')]);
    await Promise.all([cast('warren-qm-restart', 5), cast('warren-qm-gone', 5)]);
    const back = server('warren-qm-restart', 'rst-1', [], { newProcessGroup: true });
    await back.ready;
    const zombies = await waitUntil(
      async () => {
        const { snapshot, found } = await sweep();
        const restarted = snapshot.queues?.find((q) => q.name === 'warren-qm-restart_fanout_rst-1:nova-compute:1');
        const subjects = found.get('zombie-queues') ?? [];
        return restarted && restarted.consumers > 0 && subjects.length > 0 ? { snapshot, subjects } : undefined;
      },
      'the restarted server consuming its old fanout queue again, and the retired host’s queue a zombie',
      30_000,
    );
    expect(zombies.subjects).toEqual(['//warren-qm-gone_fanout_gone-1:nova-compute:1']);
    // the restarted server took the same name: no second fanout queue of rst-1
    expect(
      zombies.snapshot.queues?.filter((q) => q.name.startsWith('warren-qm-restart_fanout_')).map((q) => q.name),
    ).toEqual(['warren-qm-restart_fanout_rst-1:nova-compute:1']);
  });
});
