/**
 * Removing the queues a test file's clients declared. oslo servers in quorum mode declare durable quorum queues
 * (`<topic>`, `<topic>.<server>`) and stream fanouts that outlive the servers; left on the shared cluster, they are
 * all led by the node the clients connected to, and later files' leader-imbalance checks see that pile-up.
 */
import { z } from 'zod';
import type { LocalStackDescription } from '../../src/devstack/index.js';
import { stackManagement } from './stack-fixtures.js';

const listing = z.array(z.looseObject({ name: z.string(), vhost: z.string() }));

/** Deletes every queue, in any vhost, whose name matches; the names deleted. */
export async function deleteQueuesMatching(desc: LocalStackDescription, pattern: RegExp): Promise<string[]> {
  const management = stackManagement(desc);
  const queues = await management.get('/api/queues', listing, { columns: 'name,vhost' });
  const matching = queues.filter((q) => pattern.test(q.name));
  for (const { name, vhost } of matching) {
    await management.send('DELETE', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`);
  }
  return matching.map((q) => q.name);
}
