/**
 * forget-node on the real cluster, with the damage done for real: a node cut off by a partition is refused (it is
 * not gone), and a node whose VM is killed and whose data is deleted is removed from the cluster by a critical run
 * that two people other than the requester approve. The node-down alert resolves in place, the node's classic
 * queue goes with it as the plan said, and its quorum members are dropped. Afterwards the node joins again afresh,
 * with a member of every quorum queue and a replica of every stream.
 * Then `--offline` (runbook 1.6): the three nodes stopped one after the other, every VM down, the node that stopped
 * last lost for good; `forget_cluster_node --offline` in the stopped survivor's files, then its service started, and
 * it boots without the lost node. The lost node's quorum members, which the offline form cannot remove, are then
 * named by the quorum-forgotten-members alert and removed by shrink-forgotten-members (over HTTP on 4.0, with
 * `rabbitmq-queues shrink` through node control on 3.x), which resolves the alert. Node control runs as on the nodes' hosts (their user, their environment:
 * devstack-service.ts), which the offline form needs and the online one does not mind. The file ends by forming the
 * cluster anew (see afterAll).
 *
 * warren is given the management URLs of nodes 1 and 2 only: a partitioned node's own URL would answer and refuse
 * the run before node control is asked, and the point of the partition case is that it is refused all the same.
 */

import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { healPartition, type LocalStack, managementAuthorization } from '../../src/devstack/index.js';
import { ManagementApiError } from '../../src/errors.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import {
  clusterHealthy,
  cutPartition,
  rejoinAfresh,
  restoreWhenFinished,
  settledPartition,
} from '../support/cluster-health.js';
import { onWholeCluster, stackDescriptionFile } from '../support/damage-harness.js';
import type { FakeSlack, RecordedCall } from '../support/fake-slack.js';
import { stackClusterYaml } from '../support/stack-env.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { approveRun, harnessKeys, SWEEPING_YAML, slash } from '../support/warren-harness.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER_A = 'U0ANNA';
const APPROVER_B = 'U0BORIS';
const CHANNEL = 'C0OPS';
/** Where SWEEPING_YAML posts alerts. */
const ALERTS = 'C0ALERTS';
const KEYS = harnessKeys('workflows-forget-node');
const PREFIX = `warren-forget-${randomUUID().slice(0, 6)}`;

const text = (reply: Record<string, unknown>) => String(reply.text ?? '');
const blocksOf = (call: RecordedCall) => JSON.stringify(call.params.blocks);

describe('forget-node on the real cluster', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const management = stackManagement(desc, 'local');
  const reachable = desc.nodes.slice(0, 2);

  const service = stackDescriptionFile(desc);
  const yaml = () => `${stackClusterYaml(desc, {
    nodes: reachable,
    // An offline forget boots the node's files in a VM of its own: over a minute on a loaded machine (seen on 4.0.5).
    nodeControlTimeout: '3m',
    serviceDescription: service.path,
    onHost: true,
  })}${SWEEPING_YAML}
access:
  operators: [${OPERATOR}]
  approvers: [${OPERATOR}, ${APPROVER_A}, ${APPROVER_B}]
`;

  const members = async () =>
    (await management.get('/api/nodes', z.array(z.looseObject({ name: z.string() })), { columns: 'name' })).map(
      (n) => n.name,
    );

  const listing = z.array(
    z.looseObject({ name: z.string(), type: z.string().optional(), members: z.array(z.string()).optional() }),
  );
  /** Every quorum queue of the cluster as the management listing (the one plans read) shows it. */
  const quorumQueues = async () =>
    (await management.get('/api/queues', listing, { disable_stats: 'true' })).filter((q) => q.type === 'quorum');

  const approve = (user: string, runId: string, post: RecordedCall) =>
    approveRun(warren, fake, { user, runId, post, channel: CHANNEL });

  /**
   * A quorum queue with a member on each of the three nodes, declared through a connection of its own (healing a
   * partition may have restarted node 1 since the last one).
   */
  async function quorumOnEveryNode(queue: string): Promise<void> {
    const onNode1 = await connect(desc.nodes[0]?.amqpUrl as string);
    await (await onNode1.createChannel()).assertQueue(queue, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': 3 },
    });
    await onNode1.close();
    await waitUntil(
      async () => (await freshQueue(management, '/', queue))?.members?.length === 3,
      `${queue} to have a member on every node`,
    );
  }

  /** The run a `/rabbit fix` answer started: its id and its request message. */
  async function requested(reply: Record<string, unknown>): Promise<{ runId: string; post: RecordedCall }> {
    const runId = /run `(r-[0-9a-f]{8})`/.exec(text(reply))?.[1];
    expect(runId, text(reply)).toBeDefined();
    const post = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === CHANNEL && !c.params.thread_ts && blocksOf(c).includes(runId as string),
      20_000,
    );
    return { runId: runId as string, post };
  }

  /** The run's message once it ended. */
  const ended = (post: RecordedCall) =>
    fake.waitForCall(
      'chat.update',
      (c) => c.params.ts === (post.reply as { ts: string }).ts && /^(Done|Failed|Aborted)/.test(String(c.params.text)),
      300_000,
    );

  /** warren's last warnings and errors, for failure messages (its debug lines are too many to keep). */
  const warnings: string[] = [];
  const keepWarning = (line: string) => {
    if (!/"level":(40|50|60)/.test(line)) return;
    warnings.push(line.trim().slice(0, 400));
    if (warnings.length > 20) warnings.shift();
  };

  /**
   * What a wait for an alert saw, for its failure message: every top-level alert message posted or edited since
   * `since`, each node's own listing of the cluster (running, partitions), and warren's last warnings.
   */
  async function alertsSeen(since: number): Promise<string> {
    const line = (c: RecordedCall) => `#${c.seq} ${c.method} ${String(c.params.text).slice(0, 160)}`;
    const top = fake.calls.filter((c) => c.params.channel === ALERTS && !c.params.thread_ts);
    const calls = top.filter((c) => c.seq > since).map(line);
    // An alert still open from before (the partition's) is edited only when what it shows changes.
    const earlier = top
      .filter((c) => c.seq <= since && blocksOf(c).includes('alert `node-down@local`'))
      .slice(-3)
      .map(line);
    const views = await Promise.all(
      desc.nodes.slice(0, 2).map(async (node) => {
        const listed = await fetch(`${node.managementUrl}/api/nodes?columns=name,running,partitions`, {
          headers: { authorization: managementAuthorization(desc) },
          signal: AbortSignal.timeout(10_000),
        })
          .then(async (r) => `${r.status} ${await r.text()}`)
          .catch((error: Error) => error.message);
        return `${node.name} lists ${listed}`;
      }),
    );
    return [
      `alert messages since #${since}: ${calls.length ? calls.join(' | ') : 'none'}`,
      `the last node-down messages before: ${earlier.length ? earlier.join(' | ') : 'none'}`,
      ...views,
      `warren's last warnings: ${warnings.length ? warnings.join('\n') : 'none'}`,
    ].join('\n');
  }

  /** The last text of every node-down alert message whose last post or edit is not RESOLVED. */
  function openNodeDownAlerts(): string[] {
    const last = new Map<string, RecordedCall>();
    for (const c of fake.calls) {
      if (c.params.channel !== ALERTS || c.params.thread_ts || !blocksOf(c).includes('alert `node-down@local`'))
        continue;
      const ts = c.method === 'chat.update' ? String(c.params.ts) : (c.reply as { ts?: string } | undefined)?.ts;
      if (ts) last.set(ts, c);
    }
    return [...last.values()]
      .filter((c) => !String(c.params.text).startsWith('RESOLVED'))
      .map((c) => `#${c.seq} ${String(c.params.text).slice(0, 160)}`);
  }

  beforeAll(async () => {
    ({ stack, fake, warren } = await onWholeCluster(desc, yaml(), KEYS, keepWarning));
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    // A cluster formed anew for the files after this one, whatever the tests left. A node cut off by a partition,
    // then forgotten and joined again online and offline, leaves Mnesia (4.0) remembering those episodes: at the
    // next whole-cluster stop the first-stopped node waited for good for the tables the last-stopped one held
    // (`inconsistent_database, starting_partitioned_network` between the two), which no restart repaired.
    await stack?.reformCluster();
    service.remove();
  }, 600_000);

  it('refuses to forget a node that is only cut off by a partition', async () => {
    restoreWhenFinished(desc, stack, () => healPartition(stack));
    await cutPartition(stack, node1, node3);
    await settledPartition(desc);
    const reply = await slash(warren, fake, OPERATOR, `fix forget-node ${node3}`, CHANNEL);
    expect(text(reply)).toMatch(
      new RegExp(`^Not forgetting \`${node3}\`: .*(its rabbit app runs|as running|answers its own)`),
    );
    expect(await members()).toContain(node3);
  }, 300_000);

  it('forgets a node whose data is gone, after two approvers, and the node-down alert resolves', async () => {
    const quorum = `${PREFIX}.quorum`;
    const home = `${PREFIX}.home-on-3`;
    await quorumOnEveryNode(quorum);
    // A classic queue whose home is node 3: declared through node 3 itself.
    const onNode3 = await connect(desc.nodes[2]?.amqpUrl as string);
    const publisher = await onNode3.createConfirmChannel();
    await publisher.assertQueue(home, { durable: true });
    publisher.sendToQueue(home, Buffer.from('lost with its node'), { persistent: true });
    await publisher.waitForConfirms();
    await onNode3.close();
    await waitUntil(async () => (await freshQueue(management, '/', home))?.messages === 1, 'the message to be counted');
    // The partition of the first test may have fired a node-down alert for node 3. It must have resolved (the
    // cluster is whole again): one still open would not be edited for the same finding after the destroy. Only a
    // post or edit after the destroy is this fault's.
    await waitUntil(
      () => openNodeDownAlerts().length === 0,
      () => `every node-down alert to have resolved before the damage (open: ${openNodeDownAlerts().join(' | ')})`,
      60_000,
    );
    const before = fake.calls.at(-1)?.seq ?? 0;
    // Should the test fail before node 3 joins again below, the next test still finds three nodes.
    let rejoined = false;
    restoreWhenFinished(desc, stack, async () => {
      if (!rejoined) await rejoinAfresh(desc, stack, node3, node1);
    });
    await stack.destroyNode(node3);
    const alert = await waitUntil(
      () =>
        fake.calls.find(
          (c) =>
            c.seq > before &&
            (c.method === 'chat.postMessage' || c.method === 'chat.update') &&
            c.params.channel === ALERTS &&
            !c.params.thread_ts &&
            !String(c.params.text).startsWith('RESOLVED') &&
            blocksOf(c).includes('alert `node-down@local`') &&
            blocksOf(c).includes(node3),
        ),
      `a node-down alert naming ${node3} posted or edited after it was destroyed`,
      60_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; saw:\n${await alertsSeen(before)}`);
    });
    const alertTs = String(alert.method === 'chat.update' ? alert.params.ts : (alert.reply as { ts: string }).ts);

    const { runId, post } = await requested(await slash(warren, fake, OPERATOR, `fix forget-node ${node3}`, CHANNEL));
    const plan = blocksOf(post);
    expect(plan).toContain('approvals 0/2');
    expect(plan).toContain('cannot be undone');
    expect(plan).toContain('its VM does not answer node control');
    expect(plan).toContain(quorum);
    // RabbitMQ 4 can leave a down node's classic queues out of its listing; 3.10 lists it, and the plan names it.
    if (desc.rabbitmq.series.startsWith('3.')) expect(plan).toContain(home);

    expect(text(await approve(OPERATOR, runId, post))).toMatch(/two-person rule/);
    expect(text(await approve(APPROVER_A, runId, post))).toMatch(/recorded; it needs one more approver/);
    expect(text(await approve(APPROVER_B, runId, post))).toMatch(/You approved/);
    const done = await ended(post);
    expect(`${done.params.text}\n${blocksOf(done)}`).toMatch(/^Done and verified/);

    expect(await members()).not.toContain(node3);
    await waitUntil(
      async () => (await freshQueue(management, '/', quorum))?.members?.includes(node3) === false,
      'the quorum member on the forgotten node to be dropped',
    );
    await expect(management.get(`/api/queues/%2F/${encodeURIComponent(home)}`, z.unknown())).rejects.toThrow(
      ManagementApiError,
    );
    await fake.waitForCall(
      'chat.update',
      (c) => c.seq > alert.seq && c.params.ts === alertTs && String(c.params.text).startsWith('RESOLVED'),
      60_000,
    );

    // Back as a new member, and the quorum queues left by this and earlier files given a member there again.
    await rejoinAfresh(desc, stack, node3, node1);
    rejoined = true;
    expect(await members()).toEqual(expect.arrayContaining([node1, node2, node3]));
  }, 300_000);

  it('forgets the lost last-stopped node in a stopped survivor, which then boots without it', async () => {
    const quorum = `${PREFIX}.offline-quorum`;
    await quorumOnEveryNode(quorum);
    // The quorum queues with a member on node 3 before the outage: after it, each lists that member again once its
    // Raft cluster has recovered its membership, and until then the listing can show an older one. The listing
    // shows a new queue's members once its leader has emitted its stats (every few seconds).
    let onNode3: string[] = [];
    await waitUntil(async () => {
      onNode3 = (await quorumQueues()).filter((q) => q.members?.includes(node3)).map((q) => q.name);
      return onNode3.includes(quorum);
    }, `the listing to show ${quorum} with a member on ${node3}`);

    for (const node of [node1, node2, node3]) expect((await stack.rabbitmqctl(node, ['stop_app'])).code).toBe(0);
    for (const node of [node1, node2]) await stack.killNode(node);
    await stack.destroyNode(node3);

    const { runId, post } = await requested(
      await slash(warren, fake, OPERATOR, `fix forget-node ${node3} --offline --on ${node2}`, CHANNEL),
    );
    expect(blocksOf(post)).toContain(`in the files of \`${node2}\`, then start`);
    expect(text(await approve(APPROVER_A, runId, post))).toMatch(/needs one more approver/);
    expect(text(await approve(APPROVER_B, runId, post))).toMatch(/You approved/);
    const done = await ended(post);
    expect(`${done.params.text}\n${blocksOf(done)}`).toMatch(/^Done and verified/);
    expect(blocksOf(done)).toContain(`runs and no longer lists`);

    // The first-stopped node now syncs from node 2.
    await stack.startNode(node1);
    expect(await members()).not.toContain(node3);

    // Offline, node 3's quorum members could not be removed (rabbitmqctl says so): the cluster runs, and its
    // quorum-forgotten-members alert names them, for shrink-forgotten-members to remove, as the plan said.
    expect(blocksOf(post)).toContain('the quorum-forgotten-members alert names them');
    const forgotten = await fake.waitForCall(
      'chat.postMessage',
      (c) =>
        c.params.channel === ALERTS &&
        !c.params.thread_ts &&
        blocksOf(c).includes('alert `quorum-forgotten-members@local`'),
      90_000,
    );
    expect(blocksOf(forgotten)).toContain(node3);
    // Every quorum queue of the cluster (earlier files leave theirs) listing its members again, in the listing the
    // plan reads: a queue whose Raft cluster has not elected a leader since the restart is listed without members,
    // one whose leader has not yet recovered a later membership change can list an older set (seen on 4.0: this
    // file's first queue listed without node 3 for a while), and a plan made then leaves it out (its warning, and
    // its verify, say so) while the alert names it once it is listed.
    let listed = '';
    await waitUntil(
      async () => {
        const all = await quorumQueues();
        const without = all.filter((q) => !q.members?.length).map((q) => q.name);
        const notYet = onNode3.filter((name) => !all.find((q) => q.name === name)?.members?.includes(node3));
        listed = `listed without members: ${JSON.stringify(without)}; not yet listing ${node3}: ${JSON.stringify(notYet)}`;
        return without.length === 0 && notYet.length === 0;
      },
      () => `every quorum queue to list its members, those that had one on ${node3} with it again (${listed})`,
      60_000,
    );
    // What Raft, the leaderboard and the queue record hold for a queue, as node 2 sees them: for failure messages.
    const raftView = async (queue: string) => {
      const ra = await stack.rabbitmqctl(
        node2,
        [
          'eval',
          `{ok, Q} = rabbit_amqqueue:lookup(rabbit_misc:r(<<"/">>, queue, <<"${queue}">>)), {N, _} = amqqueue:get_pid(Q), {ra:members({N, node()}), [X || {_, X} <- ra_leaderboard:lookup_members(N)], maps:get(nodes, amqqueue:get_type_state(Q))}.`,
        ],
        { timeoutMs: 30_000 },
      );
      return `${queue}: {ra:members, leaderboard, queue record} ${(ra.stdout || ra.stderr).replace(/\s+/g, ' ').trim()}`;
    };
    const shrink = await requested(
      await slash(warren, fake, OPERATOR, `fix shrink-forgotten-members ${node3}`, CHANNEL),
    );
    expect(text(await approve(APPROVER_A, shrink.runId, shrink.post))).toMatch(/needs one more approver/);
    expect(text(await approve(APPROVER_B, shrink.runId, shrink.post))).toMatch(/You approved/);
    const shrunk = blocksOf(await ended(shrink.post));
    // After this outage (an offline forget, the survivors restarted) RabbitMQ 4.0.5 does not always apply the
    // removal: seen today in three runs of five, the HTTP delete_member answered 2xx and Raft still listed the
    // member afterwards (ra:members on the leader), or the plan, made while the queue's listing had dropped the
    // member for a moment, left the queue out. Either way warren must not claim what did not happen: a run is
    // "Done and verified" only for queues no longer listing the member, a failed verify names the queues still
    // listing it, and the alert stays for queues left over. The note has the evidence.
    expect(shrunk, shrunk).toMatch(/Done and verified|Failed\*.*still a member on the node/s);
    // Over HTTP (4.0) the run ends by listing the queues again once the nodes have run a minute, and says what it
    // found: the plan above was made right after the restart.
    if (!desc.rabbitmq.series.startsWith('3.')) {
      const lastStep = await fake.waitForCall(
        'chat.postMessage',
        (c) =>
          c.params.thread_ts === (shrink.post.reply as { ts: string }).ts &&
          /no other quorum queue lists a member on|other quorum queue\(s\) listed a member on/.test(
            `${c.params.text} ${blocksOf(c)}`,
          ),
        30_000,
      );
      console.info(`forget-node: shrink-forgotten-members' last step: ${lastStep.params.text}`);
    }
    const planned = [quorum, ...onNode3].filter((name) => shrunk.includes(`\`${name}\``));
    const notDone = [...shrunk.matchAll(/still a member on the node, or not known: ([^"]*)/g)].join(' ');
    const claimed = planned.filter((name) => !notDone.includes(`\`${name}\``));
    let seen = '';
    await waitUntil(
      async () => {
        const all = await quorumQueues();
        const still = claimed.filter((name) => all.find((q) => q.name === name)?.members?.includes(node3));
        seen = JSON.stringify(still);
        return still.length === 0;
      },
      () => `the queues the run says it shrank to list no member on ${node3} (still listing: ${seen})`,
    );
    const left = (await quorumQueues()).filter((q) => q.members?.includes(node3)).map((q) => q.name);
    if (left.length === 0) {
      await fake.waitForCall(
        'chat.update',
        (c) => c.params.ts === (forgotten.reply as { ts: string }).ts && String(c.params.text).startsWith('RESOLVED'),
        90_000,
      );
    } else {
      console.warn(
        `forget-node: ${left.length} quorum queue(s) still list ${node3} after shrink-forgotten-members (the alert stays):\n${(await Promise.all(left.map(raftView))).join('\n')}`,
      );
    }

    // Node 3 comes back as a new member.
    await rejoinAfresh(desc, stack, node3, node1);
    await waitUntil(() => clusterHealthy(desc), 'every node running together', 120_000);
  }, 900_000);
});
