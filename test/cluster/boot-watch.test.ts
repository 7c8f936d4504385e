import { describe, expect, it } from 'vitest';
import { BootWatch } from '../../src/cluster/boot-watch.js';
import { NodeControlError } from '../../src/errors.js';

describe('BootWatch', () => {
  it('keeps since when each node has been seen booting, and starts a new clock after a break', async () => {
    const booting = new Set(['a@h', 'b@h']);
    const asked: string[] = [];
    const watch = new BootWatch(
      {
        booting: async (node) => {
          asked.push(node);
          if (node === 'c@h') throw new NodeControlError('is_booting on c@h failed (exit 69): nodedown');
          return booting.has(node);
        },
      },
      0,
    );
    expect(await watch.read(['a@h', 'b@h', 'c@h'], 1_000)).toEqual([
      { node: 'a@h', since: 1_000 },
      { node: 'b@h', since: 1_000 },
    ]);
    booting.delete('b@h');
    expect(await watch.read(['a@h', 'b@h', 'c@h'], 2_000)).toEqual([{ node: 'a@h', since: 1_000 }]);
    booting.add('b@h');
    expect(await watch.read(['a@h', 'b@h'], 3_000)).toEqual([
      { node: 'a@h', since: 1_000 },
      { node: 'b@h', since: 3_000 },
    ]);
    // A node no longer asked (it runs now) is forgotten: a later boot is a new one.
    expect(await watch.read(['b@h'], 4_000)).toEqual([{ node: 'b@h', since: 3_000 }]);
    expect(await watch.read(['a@h', 'b@h'], 5_000)).toEqual([
      { node: 'a@h', since: 5_000 },
      { node: 'b@h', since: 3_000 },
    ]);
    expect(asked.filter((n) => n === 'c@h')).toHaveLength(2);
  });

  it('asks a node again only after askEveryMs, and at once when it was not asked last time', async () => {
    let calls = 0;
    const watch = new BootWatch({
      booting: async () => {
        calls++;
        return true;
      },
    });
    await watch.read(['a@h'], 0);
    await watch.read(['a@h'], 14_000);
    expect(calls).toBe(1);
    await watch.read(['a@h'], 15_000);
    expect(calls).toBe(2);
    await watch.read([], 16_000);
    expect(await watch.read(['a@h'], 17_000)).toEqual([{ node: 'a@h', since: 17_000 }]);
    expect(calls).toBe(3);
  });
});
