/**
 * The simulated oslo's queue names and declarations in each layout, as oslo.messaging 16 declares them
 * (../shared/RUNBOOK.md section 4), and as warren's oslo name parser reads them back.
 */
import { describe, expect, it } from 'vitest';
import {
  defaultLayout,
  exchangesDurable,
  fanoutQueue,
  notificationQueue,
  QueueManager,
  replyQueue,
  rpcQueue,
} from '../../src/demo/oslo-layout.js';
import { parseOsloQueueName } from '../../src/health/oslo-queue-names.js';

describe('oslo layouts', () => {
  it('picks kolla on 4.0 and classic on 3.10', () => {
    expect(defaultLayout('4.0')).toBe('kolla');
    expect(defaultLayout('3.10')).toBe('classic');
  });

  it('classic: uuid-named transient fanout and reply queues, non-durable exchanges', () => {
    const fanout = fanoutQueue('classic', 'compute');
    expect(fanout.name).toMatch(/^compute_fanout_[0-9a-f]{32}$/);
    expect(fanout.options).toEqual({ durable: false, autoDelete: false, arguments: { 'x-expires': 1_800_000 } });
    expect(fanoutQueue('classic', 'compute').name).not.toBe(fanout.name);
    expect(parseOsloQueueName(fanout.name)).toEqual({ kind: 'fanout', topic: 'compute' });
    const reply = replyQueue('classic', new QueueManager('cmp-01', 'nova-compute'));
    expect(reply.name).toMatch(/^reply_[0-9a-f]{32}$/);
    expect(reply.options).toMatchObject({ durable: false, arguments: { 'x-expires': 1_800_000 } });
    expect(exchangesDurable('classic')).toBe(false);
    expect(notificationQueue('classic', 'notifications.info').options).toEqual({ durable: false });
  });

  it('kolla: quorum RPC queues, one stream per topic, queue-manager reply queues, durable exchanges', () => {
    expect(rpcQueue('kolla', 'compute.cmp-01')).toEqual({
      name: 'compute.cmp-01',
      options: { durable: true, arguments: { 'x-queue-type': 'quorum' } },
    });
    expect(fanoutQueue('kolla', 'compute')).toEqual({
      name: 'compute_fanout',
      options: { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '1800s' } },
      stream: true,
    });
    // The stream is not a per-server fanout queue: the zombie check must not take it for one.
    expect(parseOsloQueueName('compute_fanout')).toEqual({ kind: 'stream-fanout', topic: 'compute' });
    const reply = replyQueue('kolla', new QueueManager('cmp-01', 'nova-compute'));
    expect(reply).toEqual({
      name: 'reply_cmp-01:nova-compute:1',
      options: { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-expires': 1_800_000 } },
    });
    expect(parseOsloQueueName(reply.name)).toEqual({ kind: 'reply', host: 'cmp-01', process: 'nova-compute' });
    expect(exchangesDurable('kolla')).toBe(true);
    expect(notificationQueue('kolla', 'notifications.info').options).toMatchObject({
      arguments: { 'x-queue-type': 'quorum' },
    });
  });

  it('the queue manager counts per process, and a restarted process takes the same names again', () => {
    const names = new QueueManager('ctl-01', 'nova-api');
    expect([names.next(), names.next()]).toEqual(['ctl-01:nova-api:1', 'ctl-01:nova-api:2']);
    expect(new QueueManager('ctl-01', 'nova-api').next()).toBe('ctl-01:nova-api:1');
  });
});
