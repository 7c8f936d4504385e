/**
 * apply-policy's delivery-limit kind on a real RabbitMQ 4.0 cluster: planned, guarded, set and verified as the
 * engine runs it, the policy then does what it says (a message requeued past the limit goes to the dead-letter
 * exchange instead of being dropped), and the rollback removes it.
 * 4.0 only (project integration-4.0): per-type policies (`apply-to: quorum_queues`) need 3.12 or later.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { parseWorkflowArgs, type WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { stackManagement } from '../support/stack-fixtures.js';

const PREFIX = `warren-dl-${randomUUID().slice(0, 6)}`;
const QUEUE = `${PREFIX}.work`;
const DLX = `${PREFIX}.dlx`;
const DEAD = `${PREFIX}.dead`;

describe('apply-policy delivery-limit on RabbitMQ 4.0', () => {
  const desc = inject('stack');
  const management = stackManagement(desc, 'local');
  const context: WorkflowContext = {
    cluster: 'local',
    vhost: '/',
    management,
    remediation: remediationSchema.parse({}),
    health: healthSchema.parse({}),
    runId: 'r-4a11c0de',
    requester: 'U0POLICYTEST',
  };
  let amqp: ChannelModel;

  beforeAll(async () => {
    expect(desc.rabbitmq.series).toBe('4.0');
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    const ch = await amqp.createChannel();
    await ch.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.assertExchange(DLX, 'fanout', { durable: true });
    await ch.assertQueue(DEAD, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue(DEAD, DLX, '');
    await ch.close();
  });

  afterAll(async () => {
    if (!amqp) return;
    const ch = await amqp.createChannel();
    for (const q of [QUEUE, DEAD]) await ch.deleteQueue(q).catch(() => undefined);
    await ch.deleteExchange(DLX).catch(() => undefined);
    await amqp.close();
  });

  it('sets a delivery limit with a DLX, verifies it, and the broker dead-letters instead of dropping', async () => {
    const parsed = parseWorkflowArgs(applyPolicyWorkflow, {
      positionals: ['delivery-limit'],
      flags: { pattern: `^${PREFIX}\\.work$`, dlx: DLX, value: '2', name: `${PREFIX}-limit` },
    });
    if (!parsed.data) throw new Error(parsed.error?.message);
    const args = parsed.data;
    const plan = await applyPolicyWorkflow.plan(context, args);
    expect(plan.summary).toContain('(1 now)');
    expect(plan.warnings?.join('\n')).not.toContain('does not exist');
    const action = plan.actions[0];
    if (!action) throw new Error('no action');
    expect(await applyPolicyWorkflow.guard?.(context, action, args)).toBeUndefined();
    await applyPolicyWorkflow.execute(context, action, args);
    const verified = await applyPolicyWorkflow.verify(context, [action], args);
    expect(verified).toMatchObject({ ok: true });

    const ch = await amqp.createConfirmChannel();
    ch.sendToQueue(QUEUE, Buffer.from('poison'));
    await ch.waitForConfirms();
    let deliveries = 0;
    const tag = await ch.consume(QUEUE, (m) => {
      if (!m) return;
      deliveries++;
      ch.nack(m, false, true);
    });
    const dead = await new Promise<string>((resolve) => {
      void ch.consume(DEAD, (m) => {
        if (!m) return;
        ch.ack(m);
        resolve(m.content.toString());
      });
    });
    await ch.cancel(tag.consumerTag);
    expect(dead).toBe('poison');
    // The limit of 2 (not 4.0's default of 20) applied: the third return dead-lettered it.
    expect(deliveries).toBe(3);
    await ch.close();

    expect(await applyPolicyWorkflow.rollback?.(context, [action], args)).toContain('deleted');
  });
});
