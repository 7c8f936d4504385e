/**
 * Unit tests of the devstack's port choice: no services needed. Must not hold ports after the test.
 */

import { createServer } from 'node:net';

import { describe, expect, it } from 'vitest';

import { allocatePorts, isPortOpen, isUsablePort } from '../../src/devstack/ports.js';

describe('devstack ports', () => {
  it('never hands out default service ports or the rabbitmqctl distribution range', () => {
    for (const port of [4369, 5672, 6379, 15672, 25672, 35672, 35677, 35682]) expect(isUsablePort(port)).toBe(false);
    for (const port of [10_000, 35_671, 35_683, 40_000]) expect(isUsablePort(port)).toBe(true);
  });

  it('allocates distinct, bindable ports', async () => {
    const ports = await allocatePorts(10);
    expect(new Set(ports).size).toBe(10);
    for (const port of ports) {
      expect(isUsablePort(port)).toBe(true);
      expect(await isPortOpen(port)).toBe(false);
      await new Promise<void>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
      });
    }
    const more = await allocatePorts(5);
    expect(more.filter((p) => ports.includes(p))).toEqual([]);
  });
});
