import type { Channel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { AckBatcher } from '../../src/tap/ack-batcher.js';

function setup() {
  const calls: string[] = [];
  const channel = {
    ack: (msg: ConsumeMessage, allUpTo?: boolean) =>
      calls.push(`ack ${msg.fields.deliveryTag}${allUpTo ? ' upto' : ''}`),
    nack: (msg: ConsumeMessage) => calls.push(`nack ${msg.fields.deliveryTag}`),
  } as unknown as Channel;
  const msg = (tag: number) => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
  const acked = { count: 0 };
  const batcher = new AckBatcher(channel, Number.POSITIVE_INFINITY, (n) => {
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
});
