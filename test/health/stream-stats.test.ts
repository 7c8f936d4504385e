import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { fetchStreamReplicas } from '../../src/health/stream-stats.js';
import type { ManagementClient } from '../../src/management/management-client.js';

const R1 = 'rabbit1@h';
const R2 = 'rabbit2@h';
const R3 = 'rabbit3@h';
const stats = { name: 'compute_fanout', vhost: '/', arguments: {}, leader: R1 };

/** A management API answering the stream's stats with `repeated` keys, as RabbitMQ 4.0.5 can. */
function management(value: Record<string, unknown>, repeated: string[]): ManagementClient {
  return {
    get: async (_p: string, schema: z.ZodType, _params: unknown, options?: { repeatedKeys?: boolean }) => {
      expect(options?.repeatedKeys).toBe(true);
      return schema.parse({ value, repeated });
    },
  } as unknown as ManagementClient;
}

describe('fetchStreamReplicas', () => {
  it('takes an unambiguous answer as it is, without asking the broker', async () => {
    const asked: string[] = [];
    const stream = await fetchStreamReplicas(
      management({ ...stats, members: [R1, R2, R3], online: [R1, R2, R3] }, ['messages']),
      '/',
      'compute_fanout',
      {
        streamMembers: async (node) => {
          asked.push(node);
          return [];
        },
      },
    );
    expect(stream?.members).toEqual([R1, R2, R3]);
    expect(stream?.uncertain).toBeUndefined();
    expect(asked).toEqual([]);
  });

  it('settles two lists of members with the broker’s own stream_status, asked on the leader', async () => {
    const asked: string[] = [];
    const stream = await fetchStreamReplicas(
      management({ ...stats, members: [R1, R2, R3], online: [R1, R2, R3] }, ['members', 'online']),
      '/',
      'compute_fanout',
      {
        streamMembers: async (node) => {
          asked.push(node);
          return [R1, R2];
        },
      },
    );
    expect(asked).toEqual([R1]);
    expect(stream).toMatchObject({ members: [R1, R2], online: [R1, R2] });
    expect(stream?.uncertain).toBeUndefined();
  });

  it('leaves the members unknown, saying why, without node control or when stream_status fails', async () => {
    const twoLists = management({ ...stats, members: [R1, R2], online: [R1, R2] }, ['members']);
    const without = await fetchStreamReplicas(twoLists, '/', 'compute_fanout');
    expect(without?.members).toBeUndefined();
    expect(without?.uncertain).toMatch(/two different sets of members.*nodeControl/);
    const failing = await fetchStreamReplicas(twoLists, '/', 'compute_fanout', {
      streamMembers: async () => {
        throw new Error('exit 69: node down');
      },
    });
    expect(failing?.members).toBeUndefined();
    expect(failing?.uncertain).toMatch(/stream_status failed: exit 69: node down/);
  });
});
