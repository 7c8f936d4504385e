import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ErlangVersions, type NodeOverviewSource } from '../../src/cluster/erlang-versions.js';
import type { ManagementNode } from '../../src/management/schemas.js';

/** Management URLs that each serve one node, counting the overviews asked of them. */
function urlsOf(served: Record<string, { node: string; erlang?: string } | 'down'>) {
  const asked: string[] = [];
  const source: NodeOverviewSource = {
    baseUrls: Object.keys(served),
    async getFrom<S extends z.ZodType>(base: string, path: string, schema: S): Promise<z.output<S>> {
      asked.push(`${base}${path}`);
      const answer = served[base];
      if (!answer || answer === 'down') throw new Error(`${base} is down`);
      return schema.parse({ node: answer.node, erlang_version: answer.erlang });
    },
  };
  return { source, asked, served };
}

const running = (name: string, uptime: number): ManagementNode => ({ name, running: true, partitions: [], uptime });

describe('ErlangVersions', () => {
  it('asks every URL once, then answers from what it knows while each node runs the same boot', async () => {
    let now = 1_000_000;
    const { source, asked } = urlsOf({
      'http://a': { node: 'rabbit@a', erlang: '27.2' },
      'http://b': { node: 'rabbit@b', erlang: '27.2' },
    });
    const versions = new ErlangVersions(source, () => now);
    const nodes = [running('rabbit@a', 500_000), running('rabbit@b', 400_000)];
    expect(await versions.of(nodes)).toEqual(
      new Map([
        ['rabbit@a', '27.2'],
        ['rabbit@b', '27.2'],
      ]),
    );
    expect(asked).toHaveLength(2);
    // Ten minutes on, the same boots (uptime grew with the clock, give or take the stats interval).
    now += 600_000;
    const later = [running('rabbit@a', 1_100_000 + 4_000), running('rabbit@b', 1_000_000 - 3_000)];
    expect((await versions.of(later)).get('rabbit@b')).toBe('27.2');
    expect(asked).toHaveLength(2);
  });

  it('asks again when a node has restarted, and shows the version of its new boot', async () => {
    let now = 1_000_000;
    const { source, asked, served } = urlsOf({
      'http://a': { node: 'rabbit@a', erlang: '26.2' },
      'http://b': { node: 'rabbit@b', erlang: '26.2' },
    });
    const versions = new ErlangVersions(source, () => now);
    await versions.of([running('rabbit@a', 500_000), running('rabbit@b', 500_000)]);
    // rabbit@b upgraded to Erlang 27 and restarted: its uptime starts again.
    served['http://b'] = { node: 'rabbit@b', erlang: '27.2' };
    now += 120_000;
    const after = await versions.of([running('rabbit@a', 620_000), running('rabbit@b', 20_000)]);
    expect(after.get('rabbit@b')).toBe('27.2');
    expect(after.get('rabbit@a')).toBe('26.2');
    expect(asked).toHaveLength(4);
  });

  it('shares one round of questions among the commands asking at the same time', async () => {
    const { source, asked } = urlsOf({ 'http://a': { node: 'rabbit@a', erlang: '27.2' } });
    const versions = new ErlangVersions(source);
    const nodes = [running('rabbit@a', 1_000)];
    const all = await Promise.all(Array.from({ length: 20 }, () => versions.of(nodes)));
    expect(all.every((v) => v.get('rabbit@a') === '27.2')).toBe(true);
    expect(asked).toHaveLength(1);
  });

  it('leaves out a node no URL told about, and asks about it again only after a while', async () => {
    let now = 1_000_000;
    const { source, asked, served } = urlsOf({ 'http://a': { node: 'rabbit@a', erlang: '27.2' }, 'http://b': 'down' });
    const versions = new ErlangVersions(source, () => now);
    const nodes = () => [running('rabbit@a', now - 500_000), running('rabbit@b', now - 500_000)];
    expect([...(await versions.of(nodes())).keys()]).toEqual(['rabbit@a']);
    expect(asked).toHaveLength(2);
    now += 10_000;
    await versions.of(nodes());
    expect(asked, 'not asked again within the minute').toHaveLength(2);
    served['http://b'] = { node: 'rabbit@b', erlang: '27.1' };
    now += 60_000;
    expect((await versions.of(nodes())).get('rabbit@b')).toBe('27.1');
    expect(asked).toHaveLength(4);
  });

  it('tells nothing of a stopped node, and does not ask on its account', async () => {
    const { source, asked } = urlsOf({ 'http://a': { node: 'rabbit@a', erlang: '27.2' } });
    const versions = new ErlangVersions(source);
    await versions.of([running('rabbit@a', 1_000)]);
    const stopped: ManagementNode = { name: 'rabbit@b', running: false, partitions: [] };
    expect([...(await versions.of([running('rabbit@a', 1_000), stopped])).keys()]).toEqual(['rabbit@a']);
    expect(asked).toHaveLength(1);
  });
});
