import { describe, expect, it } from 'vitest';
import { duration, formatDuration, parseDuration } from '../../src/config/duration.js';

describe('durations', () => {
  it('parses every unit', () => {
    expect(['500ms', '30s', '15m', '4h', '7d'].map(parseDuration)).toEqual([
      500, 30_000, 900_000, 14_400_000, 604_800_000,
    ]);
  });

  it('rejects bare numbers and unknown units', () => {
    expect(parseDuration('30')).toBeUndefined();
    expect(parseDuration('1w')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });

  it('formats back to the largest exact unit', () => {
    expect([500, 30_000, 90_000, 14_400_000].map(formatDuration)).toEqual(['500ms', '30s', '90s', '4h']);
  });

  it('as a schema, explains the notation and enforces a minimum', () => {
    const schema = duration({ min: '1s' });
    expect(schema.parse('2m')).toBe(120_000);
    expect(schema.safeParse('soon').error?.issues[0]?.message).toBe(
      'not a duration: "soon" (write e.g. 500ms, 30s, 15m, 4h, 7d)',
    );
    expect(schema.safeParse('10ms').error?.issues[0]?.message).toBe('must be at least 1s');
  });
});
