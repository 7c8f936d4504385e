/**
 * A stream's own stats (`/api/queues/{vhost}/{name}`), read for its replicas: the cheap listing has no members for
 * streams. One reading for the sweep (snapshot-fetcher), the repair-stream-replicas workflow and its fixtures.
 * Read with the first of a repeated key winning: after a replica was removed, RabbitMQ 4.0 can answer with the
 * current members first and the removed replica's stale ones after them (first-key-json.ts).
 */
import { z } from 'zod';
import { ManagementApiError } from '../errors.js';
import type { ManagementClient } from '../management/management-client.js';
import { queueSchema } from '../management/schemas.js';
import type { StreamReplicas } from './cluster-snapshot.js';

/** The columns of a stream's own stats that the stream checks read. */
export const STREAM_COLUMNS = 'name,vhost,arguments,policy,effective_policy_definition,members,online,leader';
const streamStateSchema = queueSchema
  .pick({ name: true, vhost: true, arguments: true, policy: true, members: true, online: true, leader: true })
  .extend({ effective_policy_definition: z.record(z.string(), z.unknown()).nullish() });

/** A stream's own stats (STREAM_COLUMNS or all of them) as the snapshot keeps it. */
export function streamOf(stats: unknown): StreamReplicas {
  const state = streamStateSchema.parse(stats);
  return {
    vhost: state.vhost,
    name: state.name,
    arguments: state.arguments,
    ...(state.policy ? { policy: state.policy } : {}),
    ...(state.effective_policy_definition ? { effectivePolicy: state.effective_policy_definition } : {}),
    ...(state.members ? { members: state.members } : {}),
    online: state.online ?? [],
    ...(state.leader ? { leader: state.leader } : {}),
  };
}

/** The stream's replicas as the broker tells them now; undefined when the stream is gone (404). */
export async function fetchStreamReplicas(
  management: ManagementClient,
  vhost: string,
  name: string,
): Promise<StreamReplicas | undefined> {
  try {
    const stats = await management.get(
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      z.unknown(),
      { columns: STREAM_COLUMNS },
      { firstKeyWins: true },
    );
    return streamOf(stats);
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
}
