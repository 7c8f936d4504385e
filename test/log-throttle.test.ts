import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../src/log-throttle.js';

describe('LogThrottle', () => {
  it('lets the first line of a key through at once, then one per interval, counting those held back', () => {
    let now = 1_000;
    const throttle = new LogThrottle(30_000, () => now);
    const logged: string[] = [];
    const note = (key: string) => throttle.pass(key, (held) => logged.push(`${key}:${held}`));
    note('redis');
    note('other');
    now += 10_000;
    note('redis');
    note('redis');
    now += 20_000;
    note('redis');
    expect(logged).toEqual(['redis:0', 'other:0', 'redis:2']);
  });
});
