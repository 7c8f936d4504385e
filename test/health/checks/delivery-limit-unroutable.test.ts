/**
 * The delivery-limit and unroutable checks over the counters a real RabbitMQ 4.0.5 cluster gave after a message was
 * requeued past the delivery limit on quorum queue `dl-test` (no dead-letter exchange, led by node 1) and five
 * messages were published to `nobind-x`, an exchange with no binding (three dropped, one returned as mandatory):
 * test/fixtures/rabbitmq-4.0/drops-*. The counters are cumulative, so each check judges the increase over the
 * previous sweep's values, as the CounterStore keeps them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deliveryLimitCheck, rpcTopicOf } from '../../../src/health/checks/delivery-limit.js';
import { unroutableCheck } from '../../../src/health/checks/unroutable.js';
import type { QueueInfo } from '../../../src/health/cluster-snapshot.js';
import {
  type BrokerCounters,
  counterIncrease,
  counterValues,
  type PreviousCounters,
} from '../../../src/health/drop-counters.js';
import { parseBrokerVersion } from '../../../src/management/broker-version.js';
import { type NodeDropCounters, parseDropCounters } from '../../../src/management/prometheus-broker-counters.js';
import { queueSchema } from '../../../src/management/schemas.js';
import { checkContext, readFixture, snapshotOf } from '../../support/snapshot-fixtures.js';

const NODE1 = 'rabbit1-9ad5f0@localhost';
const text = (name: string) => readFileSync(new URL(`../../fixtures/rabbitmq-4.0/${name}`, import.meta.url), 'utf8');
const nodeCounters = (): NodeDropCounters[] =>
  [1, 2].map((n) => parseDropCounters(text(`drops-metrics-node${n}.txt`), text(`drops-detailed-node${n}.txt`)));
const overview = readFixture('drops-overview.json', '4.0') as {
  message_stats: { drop_unroutable: number; return_unroutable: number };
};
const counters: BrokerCounters = {
  unroutableDropped: overview.message_stats.drop_unroutable,
  unroutableReturned: overview.message_stats.return_unroutable,
};
const version = parseBrokerVersion('4.0.5');

function queue(name: string, extra: Record<string, unknown> = {}): QueueInfo {
  return {
    ...queueSchema.parse({
      name,
      vhost: '/',
      type: 'quorum',
      node: NODE1,
      leader: NODE1,
      arguments: { 'x-queue-type': 'quorum' },
      messages: 0,
      messages_ready: 0,
      messages_unacknowledged: 0,
      ...extra,
    }),
    consumers: 1,
  };
}

/** The previous sweep: the same counters, with the drops of this interval taken away. */
function previously(values: Record<string, number>): PreviousCounters {
  return { at: 0, values };
}

describe('parseDropCounters on real 4.0.5 answers', () => {
  it('reads the delivery-limit drops without a DLX, the unroutable counts and who counted them', () => {
    const [one, two] = nodeCounters();
    expect(one).toMatchObject({
      node: NODE1,
      deliveryLimitDropped: 1,
      unroutableDropped: 3,
      unroutableReturned: 1,
      exchangesDropped: [{ vhost: '/', name: 'nobind-x', value: 3 }],
      exchangesReturned: [{ vhost: '/', name: 'nobind-x', value: 1 }],
      queuesRedelivered: [{ vhost: '/', name: 'dl-test', value: 20 }],
    });
    expect(two).toMatchObject({ deliveryLimitDropped: 0, exchangesDropped: [], queuesRedelivered: [] });
  });

  it('keys values per node, and reads a lower per-node value as a restart', () => {
    const values = counterValues(counters, nodeCounters());
    expect(values).toMatchObject({
      [`node:${NODE1}:delivery-limit-dropped`]: 1,
      [`redelivered:${NODE1}://dl-test`]: 20,
      'cluster:unroutable-dropped': 3,
    });
    expect(counterIncrease(`node:${NODE1}:delivery-limit-dropped`, 2, previously(values))).toBe(1);
    expect(counterIncrease(`node:${NODE1}:delivery-limit-dropped`, 1, undefined)).toBe(0);
    expect(counterIncrease(`node:${NODE1}:delivery-limit-dropped`, 0, previously({ x: 1 }))).toBe(0);
    expect(
      counterIncrease(
        `node:${NODE1}:delivery-limit-dropped`,
        1,
        previously({ [`node:${NODE1}:delivery-limit-dropped`]: 5 }),
      ),
    ).toBe(1);
    expect(counterIncrease('cluster:unroutable-dropped', 1, previously({ 'cluster:unroutable-dropped': 5 }))).toBe(0);
  });
});

describe('delivery-limit', () => {
  const snapshot = (queues: QueueInfo[]) => snapshotOf({ queues, nodeCounters: nodeCounters(), policies: [] });
  const context = (previous?: PreviousCounters) => ({ ...checkContext(), version, counters: previous });

  it("names the quorum queue without a DLX whose redeliveries rose with the node's drops", () => {
    const findings = deliveryLimitCheck.evaluate(
      snapshot([queue('dl-test'), queue('compute.cmp-1'), queue('compute_fanout_cmp-1:nova-compute:1')]),
      context(previously({})),
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      subject: '//dl-test',
      severity: 'warning',
      data: { name: 'dl-test', node: NODE1, deliveryLimit: 20, droppedOnNode: 1, redelivered: 20 },
    });
    expect(findings[0]?.summary).toContain('more than 20 times');
  });

  it('is silent on the first sweep, when nothing rose, and for a queue with a dead-letter exchange', () => {
    expect(deliveryLimitCheck.evaluate(snapshot([queue('dl-test')]), context(undefined))).toEqual([]);
    const same = previously(counterValues(counters, nodeCounters()));
    expect(deliveryLimitCheck.evaluate(snapshot([queue('dl-test')]), context(same))).toEqual([]);
    const withDlx = queue('dl-test', { arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'dlx' } });
    const findings = deliveryLimitCheck.evaluate(snapshot([withDlx]), context(previously({})));
    // The drop was counted under "disabled": it still happened, but no queue can take it.
    expect(findings.map((f) => f.subject)).toEqual([`node:${NODE1}`]);
  });

  it('names the consumer of an oslo RPC queue from its name', () => {
    const [one] = nodeCounters();
    const rpc = { ...(one as NodeDropCounters), queuesRedelivered: [{ vhost: '/', name: 'compute.cmp-1', value: 40 }] };
    const findings = deliveryLimitCheck.evaluate(
      snapshotOf({
        queues: [queue('compute.cmp-1'), queue('compute_fanout_cmp-1:nova-compute:1')],
        nodeCounters: [rpc],
      }),
      context(previously({})),
    );
    expect(findings[0]?.details?.join('\n')).toContain('the `compute` RPC server `cmp-1`');
  });

  it('names the vhost of a queue outside the default one in the summary', () => {
    const [one] = nodeCounters();
    const nova = { ...(one as NodeDropCounters), queuesRedelivered: [{ vhost: '/nova', name: 'dl-test', value: 20 }] };
    const findings = deliveryLimitCheck.evaluate(
      snapshotOf({ queues: [queue('dl-test', { vhost: '/nova' })], nodeCounters: [nova] }),
      context(previously({})),
    );
    expect(findings[0]?.summary).toMatch(/^`dl-test` \(vhost `\/nova`\) drops messages/);
  });
});

describe('rpcTopicOf', () => {
  it('finds the topic a queue name serves, by whole dot-separated parts only, the longest when topics nest', () => {
    const topics = new Set(['compute', 'q-agent-notifier-port-update', 'a', 'a.b']);
    expect(rpcTopicOf('compute', topics)).toBe('compute');
    expect(rpcTopicOf('compute.cmp-1', topics)).toBe('compute');
    expect(rpcTopicOf('compute.cmp-1.example.org', topics)).toBe('compute');
    expect(rpcTopicOf('a.b.c', topics)).toBe('a.b');
    expect(rpcTopicOf('a.c', topics)).toBe('a');
    for (const name of ['computer', 'compute-x.cmp-1', 'conductor', '.compute', 'cmp.compute', '']) {
      expect(rpcTopicOf(name, topics), name).toBeUndefined();
    }
  });
});

describe('unroutable', () => {
  it("names the exchange and its dropped and returned counts from the nodes' metrics", () => {
    const findings = unroutableCheck.evaluate(snapshotOf({ counters, nodeCounters: nodeCounters() }), {
      ...checkContext(),
      counters: previously({}),
    });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      subject: 'exchange://nobind-x',
      summary: '3 dropped, 1 returned unroutable message(s) on exchange `nobind-x`',
      data: { exchange: 'nobind-x', dropped: 3, returned: 1 },
    });
  });

  it('says a return on the default exchange is a reply to a gone reply queue', () => {
    const [one] = nodeCounters();
    const replies = {
      ...(one as NodeDropCounters),
      exchangesDropped: [],
      exchangesReturned: [{ vhost: '/', name: '', value: 2 }],
    };
    const findings = unroutableCheck.evaluate(
      snapshotOf({ counters, nodeCounters: [replies], queues: [queue('reply_cmp-2:nova-compute:1')] }),
      { ...checkContext(), counters: previously({}) },
    );
    expect(findings[0]?.summary).toBe('2 returned unroutable message(s) on the default exchange');
    expect(findings[0]?.details?.join('\n')).toMatch(/reply_\*.*deaf[\s\S]*`cmp-2:nova-compute`/);
  });

  it('names the vhost of an exchange outside the default one in the summary', () => {
    const [one] = nodeCounters();
    const nova = {
      ...(one as NodeDropCounters),
      exchangesDropped: [{ vhost: '/nova', name: 'nova', value: 4 }],
      exchangesReturned: [],
    };
    const findings = unroutableCheck.evaluate(snapshotOf({ counters, nodeCounters: [nova] }), {
      ...checkContext(),
      counters: previously({}),
    });
    expect(findings[0]?.summary).toBe('4 dropped unroutable message(s) on exchange `nova` (vhost `/nova`)');
  });

  it('falls back to the cluster totals of /api/overview without the Prometheus plugin', () => {
    const findings = unroutableCheck.evaluate(snapshotOf({ counters }), {
      ...checkContext(),
      counters: previously({ 'cluster:unroutable-dropped': 1 }),
    });
    expect(findings).toMatchObject([{ subject: 'cluster', data: { dropped: 2, returned: 1 } }]);
    expect(unroutableCheck.evaluate(snapshotOf({ counters }), checkContext())).toEqual([]);
  });
});
