import { describe, expect, it } from 'vitest';
import { globMatch } from '../../src/tap/glob.js';

describe('globMatch', () => {
  it('matches * and ? and literals', () => {
    expect(globMatch('compute.instance.*.error', 'compute.instance.create.error')).toBe(true);
    expect(globMatch('compute.instance.*.error', 'compute.instance.create.end')).toBe(false);
    expect(globMatch('nova-compute:*', 'nova-compute:cmp-01')).toBe(true);
    expect(globMatch('port.?reate.end', 'port.create.end')).toBe(true);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a', 'ab')).toBe(false);
    expect(globMatch('a.b', 'aXb')).toBe(false);
  });

  it('stays fast on patterns that make backtracking regexes explode', () => {
    const pattern = `${'*a'.repeat(30)}b`;
    const text = 'a'.repeat(5000);
    const started = process.hrtime.bigint();
    expect(globMatch(pattern, text)).toBe(false);
    // Not a timing assertion on the machine: the bound is on work, which is pattern × text, far below a second.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(5);
  });
});
