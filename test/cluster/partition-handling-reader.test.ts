import { describe, expect, it } from 'vitest';
import { PartitionHandlingReader } from '../../src/cluster/partition-handling-reader.js';
import { NodeControlError } from '../../src/errors.js';
import type { PartitionHandling } from '../../src/management/partition-handling.js';

const A = 'rabbit@a';
const B = 'rabbit@b';
const C = 'rabbit@c';

/** A node control that answers from a table and counts the reads per node. */
function source(modes: Map<string, PartitionHandling | Error>) {
  const reads: string[] = [];
  return {
    reads,
    partitionHandling: async (node: string) => {
      reads.push(node);
      const answer = modes.get(node);
      if (!answer) throw new NodeControlError(`no answer from ${node}`);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

const up = (name: string, uptime = 60_000) => ({ name, running: true, uptime });

describe('reading each node partition handling at a slow cadence', () => {
  it('reads every running node once, then answers from its cache until the mode is old', async () => {
    let now = 0;
    const fake = source(
      new Map([
        [A, { mode: 'ignore' }],
        [B, { mode: 'ignore' }],
      ]),
    );
    const reader = new PartitionHandlingReader(fake, { ttlMs: 600_000, now: () => now });
    const nodes = [up(A), up(B), { name: C, running: false }];
    expect((await reader.read(nodes)).map((e) => [e.node, e.handling?.mode])).toEqual([
      [A, 'ignore'],
      [B, 'ignore'],
    ]);
    now = 599_000;
    await reader.read([up(A, 659_000), up(B, 659_000), { name: C, running: false }]);
    expect(fake.reads).toEqual([A, B]);
    now = 600_000;
    await reader.read([up(A, 660_000), up(B, 660_000), { name: C, running: false }]);
    expect(fake.reads).toEqual([A, B, A, B]);
  });

  it('reads again at once when the node set changes or a node restarted', async () => {
    const fake = source(
      new Map([
        [A, { mode: 'ignore' }],
        [B, { mode: 'autoheal' }],
        [C, { mode: 'ignore' }],
      ]),
    );
    const reader = new PartitionHandlingReader(fake, { now: () => 0 });
    await reader.read([up(A), up(B)]);
    await reader.read([up(A), up(B), up(C)]);
    expect(fake.reads.sort()).toEqual([A, A, B, B, C]);
    fake.reads.length = 0;
    // B's uptime went back: it restarted, maybe with another rabbitmq.conf
    await reader.read([up(A, 70_000), up(B, 1_000), up(C, 70_000)]);
    expect(fake.reads).toEqual([B]);
  });

  it('keeps a failed read for a minute, and fails only when no running node answered', async () => {
    let now = 0;
    const fake = source(new Map([[A, { mode: 'ignore' }]]));
    const reader = new PartitionHandlingReader(fake, { retryMs: 60_000, now: () => now });
    const entries = await reader.read([up(A), up(B)]);
    expect(entries[1]).toEqual({ node: B, error: 'no answer from rabbit@b', readAt: 0 });
    now = 30_000;
    await reader.read([up(A), up(B)]);
    expect(fake.reads).toEqual([A, B]);
    now = 60_000;
    await reader.read([up(A), up(B)]);
    expect(fake.reads).toEqual([A, B, B]);

    const none = new PartitionHandlingReader(source(new Map()), { now: () => 0 });
    await expect(none.read([up(A), up(B)])).rejects.toThrow('no answer from rabbit@a; no answer from rabbit@b');
  });

  it('runs one read per node for callers that ask at the same time (the sweep and /rabbit status)', async () => {
    const fake = source(new Map([[A, { mode: 'pause_minority' }]]));
    const reader = new PartitionHandlingReader(fake, { now: () => 0 });
    const [first, second] = await Promise.all([reader.read([up(A)]), reader.read([up(A)])]);
    expect(first).toEqual(second);
    expect(fake.reads).toEqual([A]);
  });
});
