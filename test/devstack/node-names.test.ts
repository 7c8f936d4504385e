import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// epmd is the host's: other stacks may be registered there while this runs
vi.mock('../../src/devstack/epmd.js', () => ({ epmdNames: vi.fn(async () => registered) }));
let registered: string[] | undefined;

const { chooseShortNames, releaseNames } = await import('../../src/devstack/node-names.js');

describe('chooseShortNames', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-names-'));
    process.env.WARREN_NODE_NAMES_DIR = dir;
    registered = undefined;
  });
  afterEach(() => {
    delete process.env.WARREN_NODE_NAMES_DIR;
  });

  it('takes rabbit1..N when free, and suffixed names while they are reserved, until released', async () => {
    const first = await chooseShortNames(3);
    expect(first).toEqual(['rabbit1', 'rabbit2', 'rabbit3']);
    const second = await chooseShortNames(3);
    expect(second).toHaveLength(3);
    const suffix = second[0]?.split('-')[1];
    expect(second).toEqual([`rabbit1-${suffix}`, `rabbit2-${suffix}`, `rabbit3-${suffix}`]);
    releaseNames(first);
    expect(await chooseShortNames(3)).toEqual(['rabbit1', 'rabbit2', 'rabbit3']);
    releaseNames(second);
    expect(readdirSync(dir).sort()).toEqual(['rabbit1', 'rabbit2', 'rabbit3']);
  });

  it('avoids a name another live process reserved, and takes over one whose process is gone', async () => {
    writeFileSync(join(dir, 'rabbit2'), '1'); // pid 1 is always alive
    const avoided = await chooseShortNames(3);
    expect(avoided[0]).toMatch(/^rabbit1-[0-9a-f]{6}$/);
    // nothing half-reserved is left behind: rabbit1 was given back when rabbit2 was refused
    expect(readdirSync(dir).filter((n) => n === 'rabbit1')).toEqual([]);
    releaseNames(avoided);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(join(dir, 'rabbit2'), String(dead));
    expect(await chooseShortNames(3)).toEqual(['rabbit1', 'rabbit2', 'rabbit3']);
  });

  it('avoids names registered with epmd', async () => {
    registered = ['rabbit1'];
    expect((await chooseShortNames(2))[0]).toMatch(/^rabbit1-/);
  });
});
