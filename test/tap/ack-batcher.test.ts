import type { Channel, ConsumeMessage } from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AckBatcher } from '../../src/tap/ack-batcher.js';

function setup(window = Number.POSITIVE_INFINITY) {
  const calls: string[] = [];
  const channel = {
    ack: (msg: ConsumeMessage, allUpTo?: boolean) =>
      calls.push(`ack ${msg.fields.deliveryTag}${allUpTo ? ' upto' : ''}`),
    nack: (msg: ConsumeMessage) => calls.push(`nack ${msg.fields.deliveryTag}`),
  } as unknown as Channel;
  const msg = (tag: number) => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
  const acked = { count: 0 };
  const batcher = new AckBatcher(channel, window, (n) => {
    acked.count += n;
  });
  return { calls, batcher, msg, acked };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('AckBatcher', () => {
  it('acks up to the highest delivery whose predecessors have all finished, once per turn', async () => {
    const { calls, batcher, msg } = setup();
    const m = [1, 2, 3, 4].map(msg);
    for (const x of m) batcher.received(x);
    batcher.done(m[1] as ConsumeMessage);
    batcher.done(m[3] as ConsumeMessage);
    await turn();
    expect(calls).toEqual([]); // 1 has not finished: nothing may be acked yet
    batcher.done(m[0] as ConsumeMessage);
    await turn();
    expect(calls).toEqual(['ack 2 upto']);
    batcher.done(m[2] as ConsumeMessage);
    await turn();
    expect(calls).toEqual(['ack 2 upto', 'ack 4 upto']);
  });

  it('counts the deliveries each ack settles, and not the requeued one', async () => {
    const { batcher, msg, acked } = setup();
    const m = [1, 2, 3, 4].map(msg);
    for (const x of m) batcher.received(x);
    batcher.done(m[0] as ConsumeMessage);
    batcher.requeue(m[1] as ConsumeMessage);
    batcher.done(m[2] as ConsumeMessage);
    await turn();
    expect(acked.count).toBe(2);
    batcher.done(m[3] as ConsumeMessage);
    await turn();
    expect(acked.count).toBe(3);
  });

  it('nacks a requeued delivery alone and never acks its tag', async () => {
    const { calls, batcher, msg } = setup();
    const m = [1, 2, 3].map(msg);
    for (const x of m) batcher.received(x);
    batcher.done(m[0] as ConsumeMessage);
    batcher.requeue(m[2] as ConsumeMessage);
    batcher.done(m[1] as ConsumeMessage);
    await turn();
    expect(calls).toEqual(['nack 3', 'ack 2 upto']);
  });

  describe('a delivery that holds the batch ack back', () => {
    /** A window of 4, all received, all but the first finished. */
    function firstOfFourPending() {
      vi.useFakeTimers();
      const { calls, batcher, msg, acked } = setup(4);
      const m = [1, 2, 3, 4].map(msg);
      for (const x of m) batcher.received(x);
      for (const x of m.slice(1)) batcher.done(x);
      return { calls, batcher, m, acked };
    }

    afterEach(() => {
      vi.useRealTimers();
    });

    it('is passed by acking the finished ones alone once it has waited 50 ms with half the window waiting', () => {
      const { calls, batcher, m, acked } = firstOfFourPending();
      vi.advanceTimersByTime(49);
      expect(calls).toEqual([]); // a healthy Redis answers within a few turns: no frame per delivery for that
      vi.advanceTimersByTime(1);
      expect(calls).toEqual(['ack 2', 'ack 3', 'ack 4']);
      expect(acked.count).toBe(3);
      batcher.done(m[0] as ConsumeMessage);
      vi.advanceTimersByTime(0);
      // 2-4 are settled already, so the batch ack names 1 alone (multiple, which settles nothing else twice).
      expect(calls).toEqual(['ack 2', 'ack 3', 'ack 4', 'ack 1 upto']);
      expect(acked.count).toBe(4);
    });

    it('is waited for by the batch ack when it finishes in time', () => {
      const { calls, batcher, m, acked } = firstOfFourPending();
      vi.advanceTimersByTime(30);
      batcher.done(m[0] as ConsumeMessage);
      vi.advanceTimersByTime(100);
      expect(calls).toEqual(['ack 4 upto']);
      expect(acked.count).toBe(4);
    });

    it('is waited for however long while less than half the window is unacknowledged', () => {
      vi.useFakeTimers();
      const { calls, batcher, msg } = setup(10);
      const m = [1, 2, 3].map(msg);
      for (const x of m) batcher.received(x);
      batcher.done(m[1] as ConsumeMessage);
      batcher.done(m[2] as ConsumeMessage);
      vi.advanceTimersByTime(10_000);
      expect(calls).toEqual([]);
    });

    it('counts its wait from its own delivery, not from when it became the oldest', () => {
      vi.useFakeTimers();
      const { calls, batcher, msg } = setup(4);
      const m = [1, 2, 3, 4, 5].map(msg);
      for (const x of m) batcher.received(x);
      vi.advanceTimersByTime(40);
      batcher.done(m[0] as ConsumeMessage);
      for (const x of m.slice(2)) batcher.done(x);
      vi.advanceTimersByTime(0);
      expect(calls).toEqual(['ack 1 upto']); // 2 is now the oldest, received 40 ms ago
      vi.advanceTimersByTime(10);
      expect(calls).toEqual(['ack 1 upto', 'ack 3', 'ack 4', 'ack 5']);
    });
  });
});
