/**
 * The remaining workflows end to end through Slack, on the real cluster: an unsynchronised mirror synchronised
 * after one approval, and a real network partition healed by a critical run that needs two distinct approvers
 * and restarts nodes through node control (the devstack's rabbitmqctl, run from an argv template).
 */
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { unsyncedMirror } from '../../src/demo/unsynced-mirror.js';
import { attachLocalStack, type LocalStack } from '../../src/devstack/index.js';
import { freshQueue } from '../../src/remediation/broker-state.js';
import type { Warren } from '../../src/warren.js';
import {
  clusterHealthy,
  cutPartition,
  restoreCluster,
  restoreWhenFinished,
  settledPartition,
} from '../support/cluster-health.js';
import { FakeSlack, type RecordedCall } from '../support/fake-slack.js';
import { stackClusterYaml } from '../support/stack-env.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { approveRun, flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const OPERATOR = 'U0OPERATOR';
const APPROVER_A = 'U0ANNA';
const APPROVER_B = 'U0BORIS';
const CHANNEL = 'C0OPS';
const KEYS = harnessKeys('remediation-critical-flow');

const text = (reply: Record<string, unknown>) => String(reply.text ?? '');

describe('critical and blocking workflows through Slack', () => {
  const desc = inject('stack');
  let stack: LocalStack;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  const [node1, node2, node3] = desc.nodes.map((n) => n.name) as [string, string, string];
  const management = stackManagement(desc, 'local');

  const yaml = () => `${stackClusterYaml(desc)}
slack:
  channelInterval: 0ms
tap:
  enabled: false
health:
  enabled: false
access:
  operators: [${OPERATOR}]
  approvers: [${OPERATOR}, ${APPROVER_A}, ${APPROVER_B}]
`;

  function runIdOf(reply: Record<string, unknown>): string | undefined {
    return /run `(r-[0-9a-f]{8})`/.exec(text(reply))?.[1];
  }

  /** Asks for a run until the plan sees what it needs (the management API trails the broker by seconds). */
  async function request(command: string): Promise<{ runId: string; post: RecordedCall }> {
    const runId = await waitUntil(
      async () => runIdOf(await slash(warren, fake, OPERATOR, command, CHANNEL)),
      `a run to be planned for "${command}"`,
      60_000,
    );
    const post = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === CHANNEL && !c.params.thread_ts && JSON.stringify(c.params.blocks).includes(runId),
      20_000,
    );
    return { runId, post };
  }

  const approve = (user: string, runId: string, post: RecordedCall) =>
    approveRun(warren, fake, { user, runId, post, channel: CHANNEL });

  async function finalUpdate(post: RecordedCall, status: string, timeoutMs: number): Promise<RecordedCall> {
    const ts = (post.reply as { ts: string }).ts;
    return fake
      .waitForCall(
        'chat.update',
        (c) => c.params.ts === ts && /^(Done|Failed|Aborted|Interrupted)/.test(String(c.params.text)),
        timeoutMs,
      )
      .then((call) => {
        // The blocks carry each step's result and the verification: the reason when the status is not the one expected.
        expect(`${call.params.text}\n${JSON.stringify(call.params.blocks)}`).toMatch(new RegExp(`^${status}`));
        return call;
      });
  }

  beforeAll(async () => {
    stack = attachLocalStack(desc);
    await restoreCluster(desc, stack);
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    warren = await startHarnessWarren({ stack: desc, fake, yaml: yaml(), keyPrefix: KEYS, clustersInYaml: true });
  });

  afterAll(async () => {
    await warren?.stop();
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('synchronises an unsynchronised mirror after one approval', async () => {
    const mirror = await unsyncedMirror(desc, stack, amqp, 'warren-crit-sync');
    const { queue } = mirror;
    try {
      const { runId, post } = await request(`fix sync-mirrors ${queue}`);
      expect(JSON.stringify(post.params.blocks)).toMatch(/block/i);
      expect(text(await approve(APPROVER_A, runId, post))).toMatch(/You approved/);
      await finalUpdate(post, 'Done and verified', 90_000);
      const synced = await freshQueue(management, '/', queue);
      expect(synced?.synchronised_slave_nodes?.sort()).toEqual([node2, node3].sort());
    } finally {
      await mirror.remove();
    }
  }, 180_000);

  it('heals a real partition only after two distinct approvers other than the requester', async () => {
    restoreWhenFinished(desc, stack);
    await cutPartition(stack, node1, node2);
    // As an operator would, after the alert: once the cut has stopped spreading.
    await settledPartition(desc);
    const { runId, post } = await request('fix heal-partition');
    expect(JSON.stringify(post.params.blocks)).toContain('approvals 0/2');
    expect(text(await approve(OPERATOR, runId, post))).toMatch(/two-person rule/);
    expect(text(await approve(APPROVER_A, runId, post))).toMatch(/needs one more approver/);
    expect(text(await approve(APPROVER_A, runId, post))).toMatch(/already approved/);
    expect(text(await approve(APPROVER_B, runId, post))).toMatch(/You approved/);
    await finalUpdate(post, 'Done and verified', 300_000);
    expect(await clusterHealthy(desc)).toBe(true);
  }, 480_000);
});
