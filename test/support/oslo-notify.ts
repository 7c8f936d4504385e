/**
 * What the tap tests with real oslo notifiers share: the stack's management API (to make vhosts and permissions), a
 * real oslo notifier publishing errors, and waiting for the fake Slack to show a group's message.
 */
import { expect } from 'vitest';
import { type LocalStackDescription, managementAuthorization } from '../../src/devstack/index.js';
import type { FakeSlack, RecordedCall } from './fake-slack.js';
import { startOsloAgent } from './oslo-agent.js';
import { waitUntil } from './wait-until.js';

export type ManagementApi = (method: string, path: string, body?: unknown) => Promise<Response>;

/** The stack's management API as its administrator; answers other than 2xx and 404 throw. */
export function stackManagementApi(stack: LocalStackDescription): ManagementApi {
  return async (method, path, body) => {
    const response = await fetch(`${stack.nodes[0]?.managementUrl}/api${path}`, {
      method,
      headers: { authorization: managementAuthorization(stack), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: ${response.status}`);
    return response;
  };
}

/** Every permission in `vhost` for the stack's user, which oslo and warren both connect as. */
export async function grantStackUser(api: ManagementApi, stack: LocalStackDescription, vhost: string): Promise<void> {
  await api('PUT', `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(stack.username)}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
}

/**
 * A real oslo notifier publishing `count` notifications into `vhost` (`args` after `notify`: exchange, host, event
 * type, priority, oslo options); fails with oslo's own output if any was not sent.
 */
export async function notifyWithOslo(
  stack: LocalStackDescription,
  vhost: string,
  count: number,
  args: string[],
): Promise<void> {
  const agent = startOsloAgent(stack, ['notify', '--count', String(count), ...args], { vhost });
  try {
    expect(await agent.done).toEqual({ notified: count });
    // oslo's notifier logs a failed publish and carries on: its DONE line alone does not prove delivery.
    expect(agent.output()).not.toMatch(/MessageDeliveryFailure|PRECONDITION_FAILED|Failed to publish/);
  } finally {
    await agent.stop();
  }
}

/** A Slack call's text and blocks, to search. */
export const slackCallText = (c: RecordedCall): string =>
  `${String(c.params.text)} ${JSON.stringify(c.params.blocks ?? [])}`;

/** Waits for the group message about `host` (posted, then edited in place) to show `count` events. */
export function groupMessageShowing(fake: FakeSlack, host: string, count: number): Promise<RecordedCall> {
  return waitUntil(
    () =>
      [...fake.callsTo('chat.postMessage'), ...fake.callsTo('chat.update')].find(
        (c) =>
          c.params.thread_ts === undefined &&
          slackCallText(c).includes(host) &&
          String(c.params.text).endsWith(`: ${count} event(s)`),
      ),
    `the message of ${host} to show ${count} event(s)`,
  );
}

/**
 * The head of a tap test's config: one alert channel, Slack paced fast, no sweeps, and the tap retrying, editing and
 * grouping on a test's time scale. The `tap:` mapping is open, for the test's bindings or vhost form to follow.
 */
export const FAST_TAP_YAML = `slack:
  alertChannel: C0ALERTS
  channelInterval: 150ms
health:
  enabled: false
tap:
  exchangeRetry: 300ms
  updateInterval: 300ms
  groupWindow: 10m
`;
