/**
 * Each fault of the demo makes its runbook condition happen for real on the shared 3-node cluster, where the
 * matching health check finds it, and `/fault clear` takes it away again (the fixes through warren's workflows are
 * tested with the workflows themselves). The simulated cloud runs meanwhile, as it does in the demo.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { type FaultContext, faultNamed } from '../../src/demo/faults.js';
import { TrafficSimulator } from '../../src/demo/traffic-simulator.js';
import { attachLocalStack } from '../../src/devstack/index.js';
import { allChecks } from '../../src/health/checks/index.js';
import type { Finding } from '../../src/health/finding.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { restoreCluster } from '../support/cluster-health.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';

describe('demo faults on the real cluster', () => {
  const desc = inject('stack');
  const stack = attachLocalStack(desc);
  const fetcher = new SnapshotFetcher('demo', stackManagement(desc, 'demo'));
  const { thresholds } = healthSchema.parse({});
  let context: FaultContext;

  async function findings(check: string): Promise<Finding[]> {
    const snapshot = await fetcher.fetch();
    const found = allChecks.find((c) => c.id === check);
    if (!found || found.needs.some((part) => snapshot[part] === undefined)) return [];
    return found.evaluate(snapshot, { thresholds, history: new Map() });
  }

  /** Injects `fault`, waits for `check` to report a finding `about` it, clears it and waits for that to go. */
  async function roundTrip(fault: string, check: string, about: RegExp, timeoutMs = 60_000): Promise<Finding> {
    const definition = faultNamed(fault);
    if (!definition) throw new Error(`no fault ${fault}`);
    expect(await definition.inject(context)).not.toBe('');
    const mine = (all: Finding[]) => all.find((f) => about.test(`${f.subject} ${f.summary} ${f.details?.join(' ')}`));
    const finding = await waitUntil(async () => mine(await findings(check)), `${check} to report ${fault}`, timeoutMs);
    await definition.clear(context);
    return finding;
  }

  beforeAll(async () => {
    await restoreCluster(desc, stack);
    const simulator = new TrafficSimulator({ amqpUrls: desc.nodes.map((n) => n.amqpUrl), rate: 20 });
    await simulator.start();
    context = { stack, simulator, held: {} };
  });

  afterAll(async () => {
    await context?.simulator.stop({ deleteQueues: true });
  });

  it('zombie: a nova-compute killed hard leaves its fanout queue filling with a live sibling', async () => {
    const finding = await roundTrip('zombie', 'zombie-queues', /compute_fanout_/);
    expect(finding.summary).toMatch(/another `compute` fanout queue is consumed/);
  });

  it('backlog: a notifications.info queue nobody consumes', async () => {
    const finding = await roundTrip('backlog', 'backlog', /notifications\.info/);
    expect(finding.summary).toMatch(/notifications\.info/);
    await waitUntil(
      async () => (await findings('backlog')).every((f) => !/notifications\.info/.test(f.subject)),
      'the backlog to go',
    );
  });

  it('channel-leak and heartbeat: connections named by their OpenStack service', async () => {
    expect((await roundTrip('channel-leak', 'channel-leak', /neutron-openvswitch-agent/)).summary).toMatch(/150/);
    await roundTrip('heartbeat', 'heartbeats', /cinder-scheduler/);
    expect(context.held).toEqual({ leak: undefined, quiet: undefined });
  });

  it('memory-alarm: the second node raises its alarm, and clears it', async () => {
    try {
      await roundTrip('memory-alarm', 'alarms', new RegExp(desc.nodes[1]?.name as string));
      await waitUntil(async () => (await findings('alarms')).length === 0, 'the alarm to clear');
    } finally {
      await stack.rabbitmqctl(desc.nodes[1]?.name as string, ['set_vm_memory_high_watermark', '0.4']);
    }
  });

  it('unsynced-mirror: a mirror that joined after the messages', async () => {
    await roundTrip('unsynced-mirror', 'mirror-sync', /heat-engine\.demo\./);
    expect(context.held.mirror).toBeUndefined();
  });

  it('partition: a real network partition between the first two nodes', async () => {
    try {
      await roundTrip('partition', 'network-partition', new RegExp(desc.nodes[1]?.name as string), 90_000);
    } finally {
      await restoreCluster(desc, stack);
    }
  }, 300_000);
});
