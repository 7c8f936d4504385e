/**
 * apply-policy over two vhosts in one run on the real cluster, driven through the WorkflowEngine as warren drives it
 * (start with the typed words, approve, execute) with its run store and audit stream in the real Redis: one step
 * per vhost sets the policy there, the queue of each vhost takes it, and every audit record of the run names both
 * vhosts. The two vhosts (and with them their queues and policies) are made here and deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { createLogger } from '../../src/logger.js';
import { policySchema, queueSchema } from '../../src/management/schemas.js';
import { RunStore } from '../../src/remediation/run-store.js';
import { WorkflowEngine } from '../../src/remediation/workflow-engine.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { recordingChat } from '../support/recording-chat.js';
import { stackCluster, stackManagement } from '../support/stack-fixtures.js';
import { flushHarnessRedis, harnessKeys } from '../support/warren-harness.js';
import { finishedRun, startRun } from '../support/workflow-runs.js';

const KEYS = harnessKeys('workflows-apply-policy-vhosts');
const REQUESTER = 'U0REQ';
const APPROVER = 'U0APPROVER';
const CHANNEL = 'C0VHOSTS';

describe('apply-policy over two vhosts on the real cluster', () => {
  const desc = inject('stack');
  const management = stackManagement(desc, 'local');
  const tag = randomUUID().slice(0, 8);
  const vhosts = [`/warren-nova-${tag}`, `/warren-neutron-${tag}`];
  const queue = `compute_fanout_${tag}`;
  const name = `warren-expiry-${tag}`;
  const enc = encodeURIComponent;
  let redis: Redis;
  let engine: WorkflowEngine;

  beforeAll(async () => {
    await flushHarnessRedis(desc, KEYS);
    for (const vhost of vhosts) {
      await management.send('PUT', `/api/vhosts/${enc(vhost)}`, { data: {} });
      await management.send('PUT', `/api/permissions/${enc(vhost)}/${enc(desc.username)}`, {
        data: { configure: '.*', write: '.*', read: '.*' },
      });
      await management.send('PUT', `/api/queues/${enc(vhost)}/${enc(queue)}`, {
        data: { durable: true, auto_delete: false },
      });
    }
    redis = new Redis(desc.redisUrl);
    engine = new WorkflowEngine({
      clusters: new ClusterDirectory([stackCluster(desc, 'local')]),
      remediation: remediationSchema.parse({}),
      health: healthSchema.parse({}),
      redis,
      keyPrefix: `${KEYS}remediation:`,
      chat: recordingChat(),
      pacer: new ChannelPacer(redis, 0),
      access: new AccessPolicy({ readers: [], operators: [], approvers: [APPROVER], channels: [] }),
      logger: createLogger('silent'),
      workflows: [applyPolicyWorkflow],
    });
  });

  afterAll(async () => {
    await engine?.stop();
    redis?.disconnect();
    for (const vhost of vhosts) await management.send('DELETE', `/api/vhosts/${enc(vhost)}`).catch(() => undefined);
  });

  it('sets the policy in both vhosts in one run, and every audit record of the run names both', async () => {
    const id = await startRun(engine, {
      target: 'apply-policy',
      words: { positionals: ['expiry'], flags: { vhost: vhosts.join(','), pattern: `^${queue}$`, name } },
      cluster: 'local',
      requester: REQUESTER,
      channel: CHANNEL,
    });
    await engine.approve(id, { userId: APPROVER, channelId: CHANNEL });
    const run = await finishedRun(new RunStore(redis, `${KEYS}remediation:`), id, 60_000);

    expect(run.status, run.outcome).toBe('succeeded');
    expect(run.steps.map((s) => [s.key, s.status])).toEqual(vhosts.map((v) => [`policy:${v}/${name}`, 'done']));
    for (const vhost of vhosts) {
      const policy = await management.get(`/api/policies/${enc(vhost)}/${enc(name)}`, policySchema);
      expect(policy).toMatchObject({ vhost, pattern: `^${queue}$`, definition: { expires: 1_800_000 } });
      const q = await management.get(`/api/queues/${enc(vhost)}/${enc(queue)}`, queueSchema);
      expect(q.policy).toBe(name);
    }

    const records = (await engine.audit(100)).filter((e) => e.run === id);
    expect(records.map((e) => e.event)).toEqual(
      expect.arrayContaining(['requested', 'approved', 'step-done', 'verified']),
    );
    for (const record of records) expect(record.vhosts).toEqual([...vhosts].sort());
  });
});
