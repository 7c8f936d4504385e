/**
 * Closing client connections, as the connection workflows (channel leaks, disabled heartbeats) do it: one DELETE
 * with an `X-Reason` the client sees in its `connection.close`, then a wait for the management API to stop listing
 * them, since a closed connection can linger in its view for a moment.
 */
import type { ManagementClient } from '../management/management-client.js';
import { connectionPath, freshConnection } from './broker-state.js';
import { pollUntil } from './poll.js';

/** Closes `name`, telling its client `reason`; idempotent: a connection already gone says so. */
export async function closeConnection(
  management: ManagementClient,
  name: string,
  reason: string,
): Promise<'closed' | 'already closed'> {
  const { status } = await management.send('DELETE', connectionPath(name), { headers: { 'X-Reason': reason } });
  return status === 404 ? 'already closed' : 'closed';
}

/** The connections of `names` still listed after waiting up to `timeoutMs` for all of them to go. */
export async function connectionsStillOpen(
  management: ManagementClient,
  names: readonly string[],
  timeoutMs = 10_000,
): Promise<string[]> {
  let open: string[] = [];
  await pollUntil(async () => {
    open = [];
    for (const name of names) if (await freshConnection(management, name)) open.push(name);
    return open.length === 0 ? true : undefined;
  }, timeoutMs);
  return open;
}
