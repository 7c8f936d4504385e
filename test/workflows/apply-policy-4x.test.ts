/**
 * apply-policy's 4.x kinds (transient-expiry, delivery-limit, stream-retention) planned over the queues of a real
 * RabbitMQ 4.0.5 cluster in the kolla layout (test/fixtures/rabbitmq-4.0): each governs one queue type, so the
 * preview counts only queues of that type; delivery-limit needs its dead-letter exchange and says when it is
 * missing; RabbitMQ before 3.12, which has no per-type policy target, is refused.
 */
import { describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { nodesSchema } from '../../src/management/schemas.js';
import { parseWorkflowArgs, type WorkflowContext } from '../../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';
import { readFixture } from '../support/snapshot-fixtures.js';

const kollaQueues = readFixture('kolla-queues.json', '4.0') as { name: string; vhost: string; type: string }[];

function fake(options: { exchanges?: string[]; series?: '3.10' | '4.0' } = {}) {
  const sent: { method: string; path: string; data?: unknown }[] = [];
  const answer = (path: string): unknown => {
    if (path === '/api/vhosts/%2F') return { name: '/' };
    if (path === '/api/policies/%2F') return [];
    if (path === '/api/queues/%2F') return kollaQueues.map(({ name, vhost, type }) => ({ name, vhost, type }));
    const exchange = /^\/api\/exchanges\/%2F\/(.+)$/.exec(path);
    if (exchange && (options.exchanges ?? []).includes(decodeURIComponent(exchange[1] as string))) {
      return { name: decodeURIComponent(exchange[1] as string) };
    }
    throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: ['http://n1'],
    get: async (path: string, schema: { parse(v: unknown): unknown }) => schema.parse(answer(path)),
    nodes: async () =>
      nodesSchema.parse(
        options.series === '3.10' ? readFixture('healthy-nodes.json') : readFixture('kolla-nodes.json', '4.0'),
      ),
    send: async (method: string, path: string, opts: { data?: unknown } = {}) => {
      sent.push({ method, path, data: opts.data });
      return { status: 201 };
    },
  };
  return { management: management as unknown as ManagementClient, sent };
}

const contextOf = (management: ManagementClient): WorkflowContext => ({
  cluster: 'local',
  vhost: '/',
  management,
  remediation: remediationSchema.parse({}),
  health: healthSchema.parse({}),
  runId: 'r-0000abcd',
  requester: 'U0REQ',
});

const args = (positionals: string[], flags: Record<string, string> = {}) =>
  parseWorkflowArgs(applyPolicyWorkflow, { positionals, flags });

describe("apply-policy's 4.x kinds", () => {
  it('reads the new kinds, and delivery-limit only with its dead-letter exchange', () => {
    expect(args(['delivery-limit']).error?.issues[0]?.message).toBe(
      'delivery-limit needs --dlx EXCHANGE: the dead-letter exchange that takes what would be dropped',
    );
    expect(args(['expiry'], { dlx: 'dlx' }).error?.issues[0]?.message).toBe('--dlx goes with delivery-limit only');
    expect(args(['delivery-limit'], { dlx: 'dlx', value: '5' }).data).toMatchObject({
      kind: 'delivery-limit',
      value: 5,
      dlx: 'dlx',
      pattern: '.*',
      name: 'warren-delivery-limit',
    });
    expect(args(['stream-retention'], { value: '1h' }).data).toMatchObject({ value: 3_600_000, pattern: '_fanout$' });
    expect(args(['transient-expiry']).data).toMatchObject({ value: 1_800_000, pattern: '(_fanout_|^reply_)' });
  });

  it('plans a delivery limit with a DLX for the quorum queues only, and says when the DLX is missing', async () => {
    const { management, sent } = fake();
    const parsed = args(['delivery-limit'], { dlx: 'openstack.dlx' });
    if (!parsed.data) throw new Error('unparsed');
    const plan = await applyPolicyWorkflow.plan(contextOf(management), parsed.data);
    const quorum = kollaQueues.filter((q) => q.type === 'quorum').length;
    expect(plan.summary).toContain(`(${quorum} now)`);
    expect(plan.actions[0]?.data).toMatchObject({
      definition: { 'delivery-limit': 20, 'dead-letter-exchange': 'openstack.dlx' },
      applyTo: 'quorum_queues',
    });
    expect(plan.warnings?.join('\n')).toContain('Exchange `openstack.dlx` does not exist');
    expect(plan.warnings?.join('\n')).not.toContain('`l3_agent`');
    const action = plan.actions[0];
    if (!action) throw new Error('no action');
    await applyPolicyWorkflow.execute(contextOf(management), action, parsed.data);
    expect(sent[0]).toMatchObject({
      method: 'PUT',
      path: '/api/policies/%2F/warren-delivery-limit',
      data: {
        'apply-to': 'quorum_queues',
        definition: { 'delivery-limit': 20, 'dead-letter-exchange': 'openstack.dlx' },
      },
    });
    const present = await applyPolicyWorkflow.plan(
      contextOf(fake({ exchanges: ['openstack.dlx'] }).management),
      parsed.data,
    );
    expect(present.warnings?.join('\n')).not.toContain('does not exist');
  });

  it('plans stream retention as max-age in seconds over the stream fanouts', async () => {
    const parsed = args(['stream-retention']);
    if (!parsed.data) throw new Error('unparsed');
    const plan = await applyPolicyWorkflow.plan(contextOf(fake().management), parsed.data);
    expect(plan.actions[0]?.data).toMatchObject({
      definition: { 'max-age': '1800s' },
      applyTo: 'streams',
      samples: ['scheduler_fanout'],
    });
  });

  it('plans the expiry of transient quorum queues, not of classic ones', async () => {
    const parsed = args(['transient-expiry']);
    if (!parsed.data) throw new Error('unparsed');
    const plan = await applyPolicyWorkflow.plan(contextOf(fake().management), parsed.data);
    expect(plan.actions[0]?.data).toMatchObject({
      definition: { expires: 1_800_000 },
      applyTo: 'quorum_queues',
      samples: ['compute_fanout_cmp-1:nova-compute:1'],
    });
  });

  it('refuses a per-type policy on RabbitMQ before 3.12', async () => {
    const parsed = args(['stream-retention']);
    if (!parsed.data) throw new Error('unparsed');
    await expect(applyPolicyWorkflow.plan(contextOf(fake({ series: '3.10' }).management), parsed.data)).rejects.toThrow(
      WorkflowRefusedError,
    );
  });
});
