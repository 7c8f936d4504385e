/**
 * A stream's own stats (`/api/queues/{vhost}/{name}`), read for its replicas: the cheap listing has no members for
 * streams. One reading for the sweep (snapshot-fetcher), the repair-stream-replicas workflow and its fixtures.
 * RabbitMQ 4.0.5 can answer it with `members` and `online` twice, two stats entries frozen at different moments
 * after a replica was removed or added (repeated-keys-json.ts): the answer is then uncertain, and the broker itself
 * is asked (`rabbitmq-streams stream_status` through node control). Without node control such a stream is not judged.
 */
import { z } from 'zod';
import { ManagementApiError, NodeControlError } from '../errors.js';
import type { ManagementClient } from '../management/management-client.js';
import { queueSchema } from '../management/schemas.js';
import type { NodeControl } from '../remediation/node-control.js';
import type { StreamReplicas } from './cluster-snapshot.js';

/** The columns of a stream's own stats that the stream checks read. */
export const STREAM_COLUMNS = 'name,vhost,arguments,policy,effective_policy_definition,members,online,leader';
const streamStateSchema = queueSchema
  .pick({ name: true, vhost: true, arguments: true, policy: true, members: true, online: true, leader: true })
  .extend({ effective_policy_definition: z.record(z.string(), z.unknown()).nullish() });

/** Where a stream's members are asked when its stats are uncertain: node control. */
export type StreamMembersSource = Pick<NodeControl, 'streamMembers'>;

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

const answerSchema = z.object({ value: z.unknown(), repeated: z.array(z.string()) });

/**
 * The stream's replicas as the broker tells them now; undefined when the stream is gone (404). An uncertain answer
 * is settled by `broker` (asked on the leader the first list names) when given; else, or when that fails, the
 * stream comes back without members and with `uncertain` saying why.
 */
export async function fetchStreamReplicas(
  management: ManagementClient,
  vhost: string,
  name: string,
  broker?: StreamMembersSource,
): Promise<StreamReplicas | undefined> {
  let answer: z.infer<typeof answerSchema>;
  try {
    answer = await management.get(
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      answerSchema,
      { columns: STREAM_COLUMNS },
      { repeatedKeys: true },
    );
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
  const stream = streamOf(answer.value);
  if (!answer.repeated.includes('members') && !answer.repeated.includes('online')) return stream;
  const { members: _listed, ...rest } = stream;
  const twoLists = 'the management API listed two different sets of members (RabbitMQ 4.0.5 after a replica change)';
  if (!broker) return { ...rest, uncertain: `${twoLists}; set clusters[].nodeControl to ask the broker` };
  const node = stream.leader ?? stream.members?.[0];
  try {
    if (!node) throw new NodeControlError('no node named to ask');
    const members = await broker.streamMembers(node, vhost, name);
    return { ...rest, members, online: members.filter((m) => stream.online.includes(m) || m === stream.leader) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ...rest, uncertain: `${twoLists}, and stream_status failed: ${reason}` };
  }
}
