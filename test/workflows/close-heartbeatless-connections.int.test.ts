/**
 * close-heartbeatless-connections against the real cluster, run as the engine runs it (plan, guard and execute per
 * step, verify) with a real WorkflowContext. The clients are real amqplib connections named the way oslo names
 * them: one that disabled heartbeats (`?heartbeat=0`, what `heartbeat_timeout_threshold = 0` does) and one that
 * took the server's. The service name carries a random suffix, and the run is scoped to it, so no other test's
 * or the demo's connections are touched on the shared cluster. In its own file: workflows.int.test.ts restores
 * the cluster first and makes a real partition, which this test needs neither of.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { connectionSchema } from '../../src/management/schemas.js';
import { freshConnection } from '../../src/remediation/broker-state.js';
import type { PlannedAction, WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { closeHeartbeatlessConnectionsWorkflow as workflow } from '../../workflows/close-heartbeatless-connections.js';
import { stackManagement } from '../support/stack-fixtures.js';
import { waitUntil } from '../support/wait-until.js';
import { workflowArgs } from '../support/workflow-args.js';

describe('close-heartbeatless-connections against the real cluster', () => {
  const desc = inject('stack');
  const management = stackManagement(desc, 'local');
  const context: WorkflowContext = {
    cluster: 'local',
    vhost: '/',
    management,
    remediation: remediationSchema.parse({}),
    health: healthSchema.parse({}),
    runId: 'r-1e57b0a7',
    requester: 'U0WORKFLOWTEST',
  };
  const clients: ChannelModel[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  });

  /** An oslo-named client; `heartbeat: 0` disables heartbeats, none takes the server's proposal. */
  async function client(service: string, pid: number, heartbeat?: number) {
    const url = desc.nodes[0]?.amqpUrl as string;
    const connectionName = `${service}:${pid}:${randomUUID()}`;
    const model = await connect(heartbeat === undefined ? url : `${url}?heartbeat=${heartbeat}`, {
      clientProperties: { connection_name: connectionName },
    });
    clients.push(model);
    model.on('error', () => undefined);
    const closed = new Promise<Error | undefined>((resolve) => model.once('close', resolve));
    return { model, connectionName, closed };
  }

  /** The broker's view of a client once the management API lists it with its negotiated timeout. */
  const listed = (connectionName: string) =>
    waitUntil(
      async () => {
        const all = await management.get('/api/connections', z.array(connectionSchema));
        const ours = all.find((c) => c.client_properties.connection_name === connectionName);
        return ours?.timeout !== undefined ? ours : undefined;
      },
      `the management API to list ${connectionName}`,
      30_000,
    );

  it('closes only the connection with heartbeats disabled, telling its client why, and says when it came back', async () => {
    const service = `cinder-scheduler-${randomUUID().slice(0, 8)}`;
    const noBeat = await client(service, 4711, 0);
    const healthy = await client(service, 4712);
    const noBeatSeen = await listed(noBeat.connectionName);
    const healthySeen = await listed(healthy.connectionName);
    expect(noBeatSeen.timeout).toBe(0);
    expect(healthySeen.timeout).toBeGreaterThan(0);
    expect(healthySeen.timeout).toBeLessThanOrEqual(context.health.thresholds.heartbeatMaxSeconds);

    const args = workflowArgs(workflow, service);
    const plan = await workflow.plan(context, args);
    expect(plan.actions.map((a) => a.key)).toEqual([noBeatSeen.name]);
    expect(plan.actions[0]?.label).toMatch(
      new RegExp(`^close \`${service}\` on \`[^\`]+\`, pid 4711, .*: heartbeats disabled, 0 channel\\(s\\)$`),
    );
    expect(plan.summary).toBe(
      `close 1 connection(s) without working heartbeats, holding 0 channel(s), of 1 service(s): \`${service}\``,
    );

    const done: PlannedAction[] = [];
    for (const action of plan.actions) {
      expect(await workflow.guard(context, action, args)).toBeUndefined();
      expect(await workflow.execute(context, action, args)).toBe('closed');
      done.push(action);
    }
    // The client sees the close, with the reason and what to change.
    const error = await noBeat.closed;
    expect(error?.message).toContain('CONNECTION_FORCED');
    expect(error?.message).toContain(
      'closed by warren run r-1e57b0a7 for U0WORKFLOWTEST: heartbeats disabled; set heartbeat_timeout_threshold',
    );
    const verification = await workflow.verify(context, done, args);
    expect(verification.ok).toBe(true);
    expect(verification.detail).toMatch(/^1 connection\(s\) closed; none has come back without heartbeats yet/);

    // The connection with heartbeats is untouched and still works.
    expect(await freshConnection(management, healthySeen.name)).toBeDefined();
    await (await healthy.model.createChannel()).close();

    // Idempotent: the step now reports the connection already closed.
    expect(await workflow.guard(context, done[0] as PlannedAction, args)).toEqual({
      reason: 'already closed',
      abort: false,
    });
    expect(await workflow.execute(context, done[0] as PlannedAction, args)).toBe('already closed');

    // The same service reconnects with the same config: verify says the close fixed nothing for it.
    const again = await client(service, 4711, 0);
    expect((await listed(again.connectionName)).timeout).toBe(0);
    const back = await workflow.verify(context, done, args);
    expect(back.ok).toBe(true);
    expect(back.detail).toMatch(
      new RegExp(
        `^1 connection\\(s\\) closed, but 1 new connection\\(s\\) of \`${service}\` came back without heartbeats\\. .*the real fix is the client's config`,
      ),
    );
  });

  it('refuses when the service has no connection without heartbeats', async () => {
    const service = `cinder-scheduler-${randomUUID().slice(0, 8)}`;
    const healthy = await client(service, 4713);
    await listed(healthy.connectionName);
    const args = workflowArgs(workflow, service);
    await expect(workflow.plan(context, args)).rejects.toThrow(/nothing to close/);
  });
});
