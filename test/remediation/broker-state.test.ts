/**
 * Fresh reads for guards: a queue answered without its consumer count (stats not in yet, its node down) is counted
 * from the consumer table instead of read as idle, and a queue that is gone reads as undefined.
 */
import { describe, expect, it } from 'vitest';
import { ManagementApiError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { consumerCount, freshQueue } from '../../src/remediation/broker-state.js';

function management(answers: Record<string, unknown>): { client: ManagementClient; asked: string[] } {
  const asked: string[] = [];
  const client = {
    get: async (path: string, schema: { parse(v: unknown): unknown }) => {
      asked.push(path);
      if (!(path in answers)) throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
      return schema.parse(answers[path]);
    },
  } as unknown as ManagementClient;
  return { client, asked };
}

const consumer = (queue: string) => ({ queue: { name: queue, vhost: '/nova' } });

const counted = async (client: ManagementClient, vhost: string, name: string) => {
  const queue = await freshQueue(client, vhost, name);
  return queue ? consumerCount(client, queue) : undefined;
};

describe('a fresh queue and its consumer count', () => {
  it('takes the consumer count the queue reports, without asking the consumer table', async () => {
    const { client, asked } = management({ '/api/queues/%2Fnova/q1': { name: 'q1', vhost: '/nova', consumers: 2 } });
    expect(await counted(client, '/nova', 'q1')).toBe(2);
    expect(asked).toEqual(['/api/queues/%2Fnova/q1']);
  });

  it('counts the consumer table when the queue comes without its count, rather than calling it idle', async () => {
    const { client } = management({
      '/api/queues/%2Fnova/q1': { name: 'q1', vhost: '/nova', messages: 20 },
      '/api/consumers/%2Fnova': [consumer('q1'), consumer('q2'), consumer('q1')],
    });
    expect(await counted(client, '/nova', 'q1')).toBe(2);
  });

  it('reads zero only when the consumer table has none either, and undefined for a queue that is gone', async () => {
    const { client } = management({
      '/api/queues/%2Fnova/q1': { name: 'q1', vhost: '/nova' },
      '/api/consumers/%2Fnova': [consumer('q2')],
    });
    expect(await counted(client, '/nova', 'q1')).toBe(0);
    expect(await freshQueue(client, '/nova', 'gone')).toBeUndefined();
  });
});
