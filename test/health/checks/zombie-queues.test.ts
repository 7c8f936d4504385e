import { describe, expect, it } from 'vitest';
import { zombieQueuesCheck } from '../../../src/health/checks/zombie-queues.js';
import type { ClusterSnapshot, QueueInfo } from '../../../src/health/cluster-snapshot.js';
import type { CheckContext } from '../../../src/health/health-check.js';
import {
  checkContext,
  fixturePolicies,
  fixtureQueues,
  fixtureQueuesWithConsumers,
  historyOf,
  snapshotOf,
} from '../../support/snapshot-fixtures.js';

// Captured after SIGKILLing an oslo-like RPC server of each topic while a sibling kept consuming, then casting:
// compute (640 casts, live sibling), scheduler (12, no sibling, no x-expires), conductor (5, no sibling, 30 min
// x-expires), cinder-volume in vhost `openstack` (queue-manager names, 9 casts, live sibling), plus the dead
// servers' reply queues.
const COMPUTE_ZOMBIE = 'compute_fanout_669e2a65df444336b3234276fd9e4662';
const COMPUTE_LIVE = 'compute_fanout_eb6504c7375d42cdbff2f8f17cf2e167';
const SCHEDULER_ZOMBIE = 'scheduler_fanout_a3a849377ca54775a69cb9d2c82fbf34';
const CONDUCTOR_DEAD = 'conductor_fanout_2165b5057be14456ac30233ad07ab4f1';
const REPLY_NO_EXPIRY_EMPTY = 'reply_0566fa56885b47bc9ec5a0b4bf57bffc';
const REPLY_NO_EXPIRY_FULL = 'reply_aec8fa41bb224fd2911261c0bcbb74c0';
const REPLY_EXPIRING_EMPTY = 'reply_9dbe0c2f4c4d40d89023b9823d0cc8bc';
const REPLY_LIVE = 'reply_3d6619fa22ad43cbb92500540c3b7ec0';

const zombieQueues = () => fixtureQueuesWithConsumers('zombie-queues.json', 'zombie-consumers.json');
const zombieSnapshot = (queues: QueueInfo[] = zombieQueues()) => snapshotOf({ queues, policies: [] });
const evaluate = (snapshot: ClusterSnapshot, context: CheckContext = checkContext()) =>
  zombieQueuesCheck.evaluate(snapshot, context);
const subjects = (snapshot: ClusterSnapshot, context?: CheckContext) =>
  evaluate(snapshot, context).map((f) => f.subject);

describe('zombie-queues check', () => {
  it('sees the consumer counts the broker’s stats listing reports, once joined from /api/consumers', () => {
    const fromStats = fixtureQueues('zombie-queues-stats.json').map((q) => [q.name, q.consumers]);
    expect(zombieQueues().map((q) => [q.name, q.consumers])).toEqual(fromStats);
    expect(fromStats.filter(([, n]) => n === 0)).toHaveLength(8);
  });

  it('finds the dead servers’ fanout queues and the orphaned reply queues', () => {
    expect(subjects(zombieSnapshot())).toEqual([
      `//${COMPUTE_ZOMBIE}`,
      `//${REPLY_NO_EXPIRY_EMPTY}`,
      `//${REPLY_NO_EXPIRY_FULL}`,
      `//${SCHEDULER_ZOMBIE}`,
      'openstack/cinder-volume_fanout_storage2:cinder-volume:1',
      'openstack/reply_storage2:cinder-volume:2',
    ]);
  });

  it('names the topic, the count and the live sibling of a fanout zombie', () => {
    const finding = evaluate(zombieSnapshot()).find((f) => f.subject === `//${COMPUTE_ZOMBIE}`);
    expect(finding).toMatchObject({
      check: 'zombie-queues',
      severity: 'warning',
      summary: `Fanout queue \`${COMPUTE_ZOMBIE}\` of topic \`compute\` holds 640 messages with no consumer, while another \`compute\` fanout queue is consumed`,
      data: {
        vhost: '/',
        name: COMPUTE_ZOMBIE,
        topic: 'compute',
        kind: 'fanout',
        messages: 640,
        hasLiveSibling: true,
        expiresMs: 1_800_000,
      },
    });
    expect(finding?.details).toEqual([
      'Live sibling: another `compute` fanout queue has a consumer, so the server that declared this one died and came back under a new queue',
      'Expires after 30m idle (`x-expires`)',
    ]);
  });

  it('reports a fanout queue with no sibling when it never expires', () => {
    const finding = evaluate(zombieSnapshot()).find((f) => f.subject === `//${SCHEDULER_ZOMBIE}`);
    expect(finding?.summary).toBe(
      `Fanout queue \`${SCHEDULER_ZOMBIE}\` of topic \`scheduler\` holds 12 messages with no consumer, and it never expires`,
    );
    expect(finding?.details?.[0]).toContain('No live sibling');
    expect(finding?.data).toMatchObject({ topic: 'scheduler', hasLiveSibling: false, expiresMs: null, messages: 12 });
  });

  it('names the vhost and reads the queue manager’s names', () => {
    const finding = evaluate(zombieSnapshot()).find((f) => f.subject.startsWith('openstack/cinder-volume_fanout'));
    expect(finding?.summary).toContain(
      '`cinder-volume_fanout_storage2:cinder-volume:1` (vhost `openstack`) of topic `cinder-volume` holds 9 messages',
    );
    expect(finding?.data).toMatchObject({ vhost: 'openstack', topic: 'cinder-volume', hasLiveSibling: true });
  });

  it('reports reply queues that hold replies or never expire', () => {
    const findings = evaluate(zombieSnapshot());
    const full = findings.find((f) => f.subject === `//${REPLY_NO_EXPIRY_FULL}`);
    expect(full?.summary).toBe(
      `Reply queue \`${REPLY_NO_EXPIRY_FULL}\` holds 3 messages with no consumer: its RPC client is gone`,
    );
    expect(full?.data).toEqual({
      vhost: '/',
      name: REPLY_NO_EXPIRY_FULL,
      topic: null,
      kind: 'reply',
      messages: 3,
      hasLiveSibling: false,
      expiresMs: null,
    });
    expect(findings.find((f) => f.subject === `//${REPLY_NO_EXPIRY_EMPTY}`)?.summary).toBe(
      `Reply queue \`${REPLY_NO_EXPIRY_EMPTY}\` has no consumer and never expires: its RPC client is gone`,
    );
    // Holds replies, but oslo's 30 min expiry will remove it
    expect(findings.find((f) => f.subject === 'openstack/reply_storage2:cinder-volume:2')?.data).toMatchObject({
      messages: 2,
      expiresMs: 1_800_000,
    });
  });

  it('leaves consumed queues and dead queues that expire by themselves alone', () => {
    const found = subjects(zombieSnapshot());
    for (const name of [COMPUTE_LIVE, CONDUCTOR_DEAD, REPLY_LIVE, REPLY_EXPIRING_EMPTY, 'compute']) {
      expect(found).not.toContain(`//${name}`);
    }
    expect(found).not.toContain('openstack/cinder-volume_fanout_storage1:cinder-volume:1');
    expect(found).not.toContain('openstack/reply_storage1:cinder-volume:2');
  });

  it('needs a live sibling in the same vhost, or no expiry, for a uuid-named fanout queue', () => {
    // conductor: no sibling, 30 min x-expires: left alone; give it a consumed sibling in another vhost: still alone
    const sibling = {
      ...zombieQueues().find((q) => q.name === COMPUTE_LIVE),
      name: `conductor_fanout_${'a'.repeat(32)}`,
    };
    const elsewhere = [...zombieQueues(), { ...sibling, vhost: 'openstack' } as QueueInfo];
    expect(subjects(zombieSnapshot(elsewhere))).not.toContain(`//${CONDUCTOR_DEAD}`);
    expect(subjects(zombieSnapshot([...zombieQueues(), sibling as QueueInfo]))).toContain(`//${CONDUCTOR_DEAD}`);
  });

  it('judges queue-manager names by their owner: gone when none of its queues is consumed, whatever the siblings', () => {
    // storage2's server was killed: none of its queues is consumed, so its fanout queue holding casts is a zombie
    // even without storage1's live sibling, and even though oslo's 30 min x-expires would remove it one day.
    const withoutLiveSibling = zombieQueues().filter((q) => q.name !== 'cinder-volume_fanout_storage1:cinder-volume:1');
    const found = evaluate(zombieSnapshot(withoutLiveSibling));
    const fanout = found.find((f) => f.subject === 'openstack/cinder-volume_fanout_storage2:cinder-volume:1');
    expect(fanout?.summary).toContain('no queue of its owner `storage2:cinder-volume` is consumed');
    expect(fanout?.data).toMatchObject({ owner: 'storage2:cinder-volume', hasLiveSibling: false });
    // A restarted process takes the same names again: while any queue of its host and process is consumed (here
    // its reply queue, re-subscribed first), its fanout queue without a consumer yet is not a zombie.
    const restarting = zombieQueues().map((q) =>
      q.vhost === 'openstack' && q.name === 'reply_storage2:cinder-volume:2' ? { ...q, consumers: 1 } : q,
    );
    expect(subjects(zombieSnapshot(restarting))).not.toContain(
      'openstack/cinder-volume_fanout_storage2:cinder-volume:1',
    );
    // The owner's consumed queue must be in the same vhost: another vhost is another cloud.
    const elsewhere = restarting.map((q) => (q.name === 'reply_storage2:cinder-volume:2' ? { ...q, vhost: '/' } : q));
    expect(subjects(zombieSnapshot(elsewhere))).toContain('openstack/cinder-volume_fanout_storage2:cinder-volume:1');
  });

  it('never takes a stream for a zombie, nor oslo’s <topic>_fanout stream for a fanout queue', () => {
    const stream = {
      ...zombieQueues().find((q) => q.name === COMPUTE_ZOMBIE),
      name: 'compute_fanout',
      type: 'stream',
      arguments: {},
    } as QueueInfo;
    const found = subjects(zombieSnapshot([...zombieQueues(), stream]));
    expect(found).not.toContain('//compute_fanout');
    // and a zombie beside it is judged as before
    expect(found).toContain(`//${COMPUTE_ZOMBIE}`);
  });

  it('counts an expiry longer than zombieMaxExpires as none', () => {
    const found = subjects(zombieSnapshot(), checkContext({ zombieMaxExpires: 600_000 }));
    expect(found).toContain(`//${CONDUCTOR_DEAD}`);
    expect(found).toContain(`//${REPLY_EXPIRING_EMPTY}`);
    const conductor = evaluate(zombieSnapshot(), checkContext({ zombieMaxExpires: 600_000 })).find(
      (f) => f.subject === `//${CONDUCTOR_DEAD}`,
    );
    expect(conductor?.details).toContain('Expires after 30m idle (`x-expires`), longer than the 10m limit');
  });

  it('counts an `expires` policy as an expiry', () => {
    // The same queues after an `expires` policy was put on `^reply_` queues in vhost `/`
    const queues = fixtureQueuesWithConsumers('policy-queues.json', 'policy-consumers.json');
    const policies = fixturePolicies('policies.json');
    const found = subjects(snapshotOf({ queues, policies }));
    expect(found).not.toContain(`//${REPLY_NO_EXPIRY_EMPTY}`);
    const full = evaluate(snapshotOf({ queues, policies })).find((f) => f.subject === `//${REPLY_NO_EXPIRY_FULL}`);
    expect(full?.details).toContain('Expires after 30m idle (policy `reply-expiry`)');
    expect(full?.data).toMatchObject({ expiresMs: 1_800_000 });
    // Without the policies (a user without the policymaker tag), the argument alone is judged.
    expect(subjects(snapshotOf({ queues }))).toContain(`//${REPLY_NO_EXPIRY_EMPTY}`);
  });

  it('says how much a zombie grew since the previous sweep', () => {
    const earlier = zombieQueues().map((q) => (q.name === COMPUTE_ZOMBIE ? { ...q, messages: 600 } : q));
    const context = { ...checkContext(), history: historyOf([earlier]) };
    const finding = evaluate(zombieSnapshot(), context).find((f) => f.subject === `//${COMPUTE_ZOMBIE}`);
    expect(finding?.details).toContain('Up 40 since the previous sweep');
  });

  it('leaves exclusive queues alone', () => {
    const queues = zombieQueues().map((q) => (q.name === SCHEDULER_ZOMBIE ? { ...q, exclusive: true } : q));
    expect(subjects(zombieSnapshot(queues))).not.toContain(`//${SCHEDULER_ZOMBIE}`);
  });

  it('finds nothing on a healthy cluster', () => {
    expect(evaluate(snapshotOf({ queues: fixtureQueues('healthy-queues.json') }))).toEqual([]);
  });

  it('offers the delete workflow and the runbook fix', () => {
    expect(zombieQueuesCheck).toMatchObject({
      id: 'zombie-queues',
      workflow: 'delete-zombie-queues',
      needs: ['queues'],
    });
    expect(zombieQueuesCheck.hint).toContain('if-unused=true');
    expect(zombieQueuesCheck.hint).toContain('`expires` policy');
  });
});
