/**
 * Each fault of the demo makes its runbook condition happen for real on the shared 3-node cluster, where the
 * matching health check finds it, and `/fault clear` takes it away again (the fixes through warren's workflows are
 * tested with the workflows themselves). The simulated cloud runs meanwhile, as it does in the demo, in the oslo
 * layout the demo picks for the stack's RabbitMQ: classic on 3.10, kolla (quorum queues, the queue manager, stream
 * fanout) on 4.0. Runs on both (ON_RABBITMQ_4_0); the unsynchronised mirror only exists on 3.10, and on 4.0 the test
 * is that `/faults` says so and `/fault` refuses it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { faultCommands } from '../../src/demo/demo.js';
import { type FaultContext, faultNamed } from '../../src/demo/faults.js';
import { defaultLayout } from '../../src/demo/oslo-layout.js';
import { TrafficSimulator } from '../../src/demo/traffic-simulator.js';
import { attachLocalStack } from '../../src/devstack/index.js';
import { allChecks } from '../../src/health/checks/index.js';
import type { Finding } from '../../src/health/finding.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { restoreCluster, restoreWhenFinished } from '../support/cluster-health.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';

describe('demo faults on the real cluster', () => {
  const desc = inject('stack');
  const stack = attachLocalStack(desc);
  const fetcher = new SnapshotFetcher('demo', stackManagement(desc, 'demo'));
  const { thresholds } = healthSchema.parse({});
  const series = desc.rabbitmq.series;
  const layout = defaultLayout(series);
  let context: FaultContext;

  async function findings(check: string): Promise<Finding[]> {
    const snapshot = await fetcher.fetch();
    const found = allChecks.find((c) => c.id === check);
    if (!found || found.needs.some((part) => snapshot[part] === undefined)) return [];
    return found.evaluate(snapshot, { thresholds, history: new Map() });
  }

  /**
   * Injects `fault`, waits for `check` to report a finding `about` it, clears it and waits for that to go; a fault
   * whose clear undoes nothing (`undone: false`, the zombie: its fix is the delete-zombie-queues workflow) is left.
   */
  async function roundTrip(
    fault: string,
    check: string,
    about: RegExp,
    timeoutMs = 60_000,
    { undone = true } = {},
  ): Promise<Finding> {
    const definition = faultNamed(fault);
    if (!definition) throw new Error(`no fault ${fault}`);
    expect(await definition.inject(context)).not.toBe('');
    const mine = (all: Finding[]) => all.find((f) => about.test(`${f.subject} ${f.summary} ${f.details?.join(' ')}`));
    const finding = await waitUntil(async () => mine(await findings(check)), `${check} to report ${fault}`, timeoutMs);
    await definition.clear(context);
    if (undone) {
      await waitUntil(
        async () => !mine(await findings(check)),
        `${check} to stop reporting ${fault} once cleared`,
        timeoutMs,
      );
    }
    return finding;
  }

  beforeAll(async () => {
    await restoreCluster(desc, stack);
    const simulator = new TrafficSimulator({ amqpUrls: desc.nodes.map((n) => n.amqpUrl), rate: 20, layout });
    await simulator.start();
    context = { stack, simulator, held: {} };
  });

  afterAll(async () => {
    await context?.simulator.stop({ deleteQueues: true });
  });

  it.runIf(layout === 'classic')(
    'zombie (classic): a nova-compute killed hard leaves its fanout queue filling with a live sibling',
    async () => {
      const finding = await roundTrip('zombie', 'zombie-queues', /compute_fanout_/, 60_000, { undone: false });
      expect(finding.summary).toMatch(/another `compute` fanout queue is consumed/);
    },
  );

  it.runIf(layout === 'kolla')(
    'zombie (kolla): a retired nova-compute leaves its queue-manager reply queue with a reply nobody reads',
    async () => {
      const finding = await roundTrip('zombie', 'zombie-queues', /reply_cmp-\d+:nova-compute:1/, 60_000, {
        undone: false,
      });
      expect(finding.summary).toMatch(/Reply queue `reply_cmp-\d+:nova-compute:1` holds 1 message/);
      // The fanout stream is shared by the topic's servers and the replacement reads it: no zombie there.
      expect((await findings('zombie-queues')).map((f) => f.subject)).not.toContainEqual(
        expect.stringMatching(/compute_fanout/),
      );
      // The layout is kolla's for real: quorum RPC queues, the topic's stream read by the two live servers, the queue
      // manager's reply queues. At least two readers, not exactly two: on 4.0.5 the management API went on listing
      // the killed server's stream consumer (without channel details) for as long as we watched (40 s and more).
      const queues = new Map(((await fetcher.fetch()).queues ?? []).map((q) => [q.name, q]));
      expect(queues.get('compute_fanout')?.consumers).toBeGreaterThanOrEqual(2);
      expect(queues.get('compute')?.type).toBe('quorum');
      expect(queues.get('compute_fanout')?.type).toBe('stream');
      expect(queues.get('reply_ctl-01:nova-api:1')?.type).toBe('quorum');
    },
  );

  it('backlog: a notifications.info queue nobody consumes', async () => {
    const finding = await roundTrip('backlog', 'backlog', /notifications\.info/);
    expect(finding.summary).toMatch(/notifications\.info/);
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

  it.skipIf(series === '4.0')('unsynced-mirror: a mirror that joined after the messages', async () => {
    await roundTrip('unsynced-mirror', 'mirror-sync', /heat-engine\.demo\./);
    expect(context.held.mirror).toBeUndefined();
  });

  it('/faults lists the faults of this RabbitMQ, and /fault refuses one that cannot happen on it', async () => {
    const lines: string[] = [];
    const commands = faultCommands(context);
    await commands['/faults']?.run([], (line) => lines.push(line));
    const mirror = lines.find((line) => line.trim().startsWith('unsynced-mirror'));
    expect(lines).toHaveLength(7);
    if (series === '4.0') {
      expect(mirror).toMatch(/not available on RabbitMQ 4\.0: classic queue mirroring was removed/);
      const refused: string[] = [];
      await commands['/fault']?.run(['unsynced-mirror'], (line) => refused.push(line));
      expect(refused).toEqual([
        expect.stringMatching(/^fault unsynced-mirror refused: not available on RabbitMQ 4\.0/),
      ]);
      expect(context.held.mirror).toBeUndefined();
    } else {
      expect(mirror).toMatch(/ha-sync-mode manual/);
    }
    expect(lines.filter((line) => /not available/.test(line))).toHaveLength(series === '4.0' ? 1 : 0);
  });

  it('partition: a real network partition between the first two nodes', async () => {
    restoreWhenFinished(desc, stack);
    await roundTrip('partition', 'network-partition', new RegExp(desc.nodes[1]?.name as string), 90_000);
  }, 300_000);
});
