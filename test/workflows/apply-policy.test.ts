import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { AlertState } from '../../src/health/alert-state.js';
import type { Finding } from '../../src/health/finding.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { nodesSchema } from '../../src/management/schemas.js';
import { type PlannedAction, parseWorkflowArgs } from '../../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow, namesMatching, patternProblem } from '../../workflows/apply-policy.js';
import { readFixture } from '../support/snapshot-fixtures.js';
import { workflowContext } from '../support/workflow-context.js';

type Policy = {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  definition: object;
  priority: number;
};
type Queue = { name: string; vhost: string; policy?: string | null };

/** Captured from a real 3.10 cluster: three policies, and 20 queues of which 8 have one in effect. */
const fixturePolicies = readFixture('policies.json') as Policy[];
const fixtureQueues = (readFixture('policy-queues.json') as { items: Queue[] }).items;

/**
 * The management API of one vhost `/` with `policies` and `queues`. A PUT stores the policy and, like the broker,
 * makes it the effective policy of the queues it matches unless `applies` is false; a DELETE removes it.
 */
function fakeManagement(
  options: { policies?: Policy[]; queues?: Queue[]; applies?: boolean; rabbitVersion?: string } = {},
) {
  const policies = new Map((options.policies ?? fixturePolicies).map((p) => [p.name, structuredClone(p)]));
  const queues = new Map((options.queues ?? fixtureQueues).map((q) => [q.name, { ...q }]));
  const sent: { method: string; path: string; data?: unknown }[] = [];
  const asked: { path: string; params?: unknown }[] = [];
  const answer = (path: string): unknown => {
    if (path === '/api/vhosts/%2F') return { name: '/' };
    if (path === '/api/policies/%2F') return [...policies.values()];
    if (path === '/api/queues/%2F') return [...queues.values()];
    const policy = /^\/api\/policies\/%2F\/(.+)$/.exec(path);
    if (policy && policies.has(decodeURIComponent(policy[1] as string))) {
      return policies.get(decodeURIComponent(policy[1] as string));
    }
    const queue = /^\/api\/queues\/%2F\/(.+)$/.exec(path);
    if (queue && queues.has(decodeURIComponent(queue[1] as string))) {
      return queues.get(decodeURIComponent(queue[1] as string));
    }
    throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
  };
  const management = {
    cluster: 'local',
    baseUrls: ['http://n1'],
    get: async (path: string, schema: { parse(v: unknown): unknown }, params?: unknown) => {
      asked.push({ path, params });
      return schema.parse(answer(path));
    },
    nodes: async () => {
      asked.push({ path: '/api/nodes' });
      const nodes = readFixture('healthy-nodes.json') as Record<string, unknown>[];
      const version = options.rabbitVersion;
      return nodesSchema.parse(
        version ? nodes.map((n) => ({ ...n, applications: [{ name: 'rabbit', version }] })) : nodes,
      );
    },
    send: async (method: string, path: string, opts: { data?: Record<string, unknown> } = {}) => {
      sent.push({ method, path, data: opts.data });
      const name = decodeURIComponent(path.replace('/api/policies/%2F/', ''));
      if (method === 'DELETE') return { status: policies.delete(name) ? 204 : 404 };
      const body = opts.data as Omit<Policy, 'vhost' | 'name'>;
      policies.set(name, { vhost: '/', name, ...body });
      if (options.applies !== false) {
        const re = new RegExp(body.pattern);
        for (const q of queues.values()) if (re.test(q.name)) q.policy = name;
      }
      return { status: 201 };
    },
  };
  return { management: management as unknown as ManagementClient, sent, asked, policies, queues };
}

const contextOf = (management: ManagementClient) => workflowContext(management);

const parse = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parseWorkflowArgs(applyPolicyWorkflow, { positionals, flags });
const messageOf = (positionals: string[], flags: Record<string, string | true> = {}) =>
  parse(positionals, flags)
    .error?.issues.map((i) => i.message)
    .join('; ');
const argsOf = (positionals: string[], flags: Record<string, string | true> = {}) => {
  const parsed = parse(positionals, flags);
  if (!parsed.success) throw new Error(parsed.error.message);
  return parsed.data;
};

afterEach(() => {
  vi.useRealTimers();
});

describe('apply-policy arguments', () => {
  it('defaults each kind to the runbook policy', () => {
    expect(argsOf(['expiry'])).toEqual({
      kind: 'expiry',
      pattern: '(_fanout_|^reply_)',
      name: 'warren-expiry',
      value: 1_800_000,
      priority: 0,
    });
    expect(argsOf(['max-length'])).toEqual({
      kind: 'max-length',
      pattern: '^(versioned_)?notifications\\.',
      name: 'warren-max-length',
      value: 10_000,
      priority: 0,
    });
  });

  it('takes a pattern, vhost, name, value (ms or a duration for expiry) and priority', () => {
    expect(
      argsOf(['expiry'], { pattern: '^reply_', vhost: 'openstack', name: 'reply-ttl', value: '45m', priority: '2' }),
    ).toEqual({
      kind: 'expiry',
      pattern: '^reply_',
      vhost: 'openstack',
      name: 'reply-ttl',
      value: 2_700_000,
      priority: 2,
    });
    expect(argsOf(['expiry'], { value: '600000' })).toMatchObject({ value: 600_000 });
    expect(argsOf(['max-length'], { value: '500' })).toMatchObject({ value: 500 });
  });

  it('refuses a missing or unknown kind, unknown flags and flags without a value', () => {
    expect(messageOf([])).toBe(
      'name one kind of policy: expiry, max-length, transient-expiry, delivery-limit or stream-retention',
    );
    expect(messageOf(['ttl'])).toBe(
      'name one kind of policy: expiry, max-length, transient-expiry, delivery-limit or stream-retention',
    );
    expect(messageOf(['expiry', 'max-length'])).toBe(
      'name one kind of policy: expiry, max-length, transient-expiry, delivery-limit or stream-retention',
    );
    expect(messageOf(['expiry'], { force: true })).toBe(
      'apply-policy takes --pattern, --vhost, --name, --value, --priority and --dlx',
    );
    expect(messageOf(['expiry'], { pattern: true })).toBe('--pattern needs a value');
    expect(messageOf(['expiry'], { name: 'bad name!' })).toBe(
      'a policy name is letters, digits and . _ - : (at most 100)',
    );
    expect(messageOf(['expiry'], { priority: 'high' })).toBe('--priority takes an integer');
  });

  it('refuses values that would do harm or mean nothing', () => {
    expect(messageOf(['expiry'], { value: '5s' })).toBe(
      'bad --value "5s": --value takes milliseconds or a duration such as 30m (at least 1m)',
    );
    expect(messageOf(['expiry'], { value: 'soon' })).toMatch(/^bad --value "soon"/);
    expect(messageOf(['max-length'], { value: '0' })).toBe(
      'bad --value "0": --value takes a number of messages (at least 1)',
    );
    expect(messageOf(['max-length'], { value: '10m' })).toMatch(/^bad --value "10m"/);
  });

  it('refuses an invalid regular expression, and one longer than 200 characters, with a clear message', () => {
    expect(messageOf(['expiry'], { pattern: '(_fanout_' })).toMatch(
      /^`\(_fanout_` is not a valid regular expression: .*Unterminated group/,
    );
    expect(messageOf(['expiry'], { pattern: `^${'a'.repeat(200)}` })).toBe(
      'the pattern is 201 characters long; at most 200 are accepted',
    );
    expect(patternProblem('^reply_')).toBeUndefined();
  });
});

describe('apply-policy and classic mirroring', () => {
  it('reads a mirroring kind (ha-mode, ha-sync-mode, mirror …) so that the plan can say why it is refused', () => {
    expect(argsOf(['ha-mode'])).toEqual({ kind: 'mirroring', requested: 'ha-mode' });
    expect(argsOf(['HA-SYNC-MODE'])).toEqual({ kind: 'mirroring', requested: 'HA-SYNC-MODE' });
    expect(argsOf(['mirroring'])).toEqual({ kind: 'mirroring', requested: 'mirroring' });
    expect(messageOf(['hash'])).toBe(
      'name one kind of policy: expiry, max-length, transient-expiry, delivery-limit or stream-retention',
    );
  });

  it('refuses ha-* keys on RabbitMQ 4.0 at plan time, saying what replaces them, and changes nothing', async () => {
    const { management, sent, asked } = fakeManagement({ rabbitVersion: '4.0.5' });
    const refused = applyPolicyWorkflow.plan(contextOf(management), argsOf(['ha-mode']));
    await expect(refused).rejects.toBeInstanceOf(WorkflowRefusedError);
    const message = await refused.catch((error: Error) => error.message);
    expect(message).toMatch(/^`ha-mode` is not applicable on RabbitMQ 4\.0\. Classic queue mirroring was removed/);
    // Each replacement is named: quorum queues (and oslo's options), expiry, delivery limit + DLX, stream max-age.
    for (const replacement of [
      'x-queue-type: quorum',
      'rabbit_quorum_queue = true',
      'rabbit_transient_quorum_queue = true',
      '`expires` policy',
      '`delivery-limit` with a `dead-letter-exchange`',
      '`max-age` retention on streams',
    ]) {
      expect(message).toContain(replacement);
    }
    expect(asked.map((a) => a.path)).toEqual(['/api/nodes']);
    expect(sent).toEqual([]);
  });

  it('refuses them before 4.0 too, since warren does not set mirroring, naming the version', async () => {
    const { management, sent } = fakeManagement({ rabbitVersion: '3.10.8' });
    await expect(applyPolicyWorkflow.plan(contextOf(management), argsOf(['ha-mode']))).rejects.toThrow(
      /^warren does not set classic mirroring policies \(`ha-mode`; this cluster runs 3\.10\.8\): .*quorum queues/,
    );
    expect(sent).toEqual([]);
  });
});

describe('apply-policy local matching', () => {
  it('matches queue names with the pattern', () => {
    expect(namesMatching('^reply_', ['reply_1', 'x_reply_2', 'compute'])).toEqual(new Set(['reply_1']));
  });

  it('refuses a pattern that backtracks catastrophically instead of hanging', () => {
    const started = Date.now();
    expect(() => namesMatching('^(a+)+$', [`${'a'.repeat(40)}!`], 200)).toThrow(WorkflowRefusedError);
    expect(() => namesMatching('^(a+)+$', [`${'a'.repeat(40)}!`], 200)).toThrow(/backtracks catastrophically/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('tests only names of a length a queue can have', () => {
    expect(namesMatching('^a', ['a'.repeat(255), 'a'.repeat(256)]).size).toBe(1);
  });
});

describe('apply-policy plan', () => {
  it('previews the expiry policy: the queues it matches now and the policy it ties with', async () => {
    const { management, sent, asked } = fakeManagement();
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf(['expiry']));
    expect(plan.summary).toBe(
      'add policy `warren-expiry` on vhost `/`: expires 1,800,000 ms (30m) for queues matching `(_fanout_|^reply_)` (12 now)',
    );
    expect(plan.warnings[0]).toMatch(/^It applies at once to the 12 queue\(s\) that match now: `cinder-volume_fanout_/);
    // The four reply queues run under `reply-expiry`, at the same priority: the approver learns it may not apply.
    expect(plan.warnings[1]).toBe(
      '`reply-expiry` (pattern `^reply_`, `{"expires":1800000}`, priority 0, apply-to queues) governs 4 of these ' +
        'queue(s) with the same priority: priority does not decide between the two, so the new policy may not apply ' +
        'to them. Choose --priority 1 to outrank it, or add `expires` to `reply-expiry` instead.',
    );
    expect(plan.warnings[2]).toMatch(/is deleted with its messages/);
    expect(plan.actions).toEqual([
      {
        key: 'policy://warren-expiry',
        label:
          'set policy `warren-expiry` (vhost `/`): pattern `(_fanout_|^reply_)`, `{"expires":1800000}`, priority 0, apply-to queues',
        data: {
          vhost: '/',
          name: 'warren-expiry',
          pattern: '(_fanout_|^reply_)',
          definition: { expires: 1_800_000 },
          priority: 0,
          applyTo: 'queues',
          samples: [
            'cinder-volume_fanout_storage1:cinder-volume:1',
            'cinder-volume_fanout_storage2:cinder-volume:1',
            'compute_fanout_669e2a65df444336b3234276fd9e4662',
            'compute_fanout_eb6504c7375d42cdbff2f8f17cf2e167',
            'conductor_fanout_2165b5057be14456ac30233ad07ab4f1',
          ],
        },
        vhosts: ['/'],
      },
    ]);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    // Names and effective policies from the cheap listing only.
    expect(asked.find((a) => a.path === '/api/queues/%2F')?.params).toEqual({
      disable_stats: 'true',
      enable_queue_totals: 'true',
      columns: 'name,vhost,policy,type',
    });
    expect(sent).toEqual([]);
  });

  it('lists at most 15 matching queues and counts the rest', async () => {
    const queues = Array.from({ length: 20 }, (_, i) => ({
      name: `q${String(i).padStart(2, '0')}_fanout_x`,
      vhost: '/',
      policy: null,
    }));
    const { management } = fakeManagement({ policies: [], queues });
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf(['expiry']));
    expect(plan.warnings[0]).toMatch(/^It applies at once to the 20 queue\(s\) that match now: `q00_fanout_x`,/);
    expect(plan.warnings[0]).toMatch(/`q14_fanout_x` and 5 more\.$/);
    expect(plan.warnings[0]).not.toContain('q15_fanout_x');
  });

  it('warns when it would replace a mirroring policy, or be hidden by it', async () => {
    const { management } = fakeManagement();
    const over = await applyPolicyWorkflow.plan(
      contextOf(management),
      argsOf(['max-length'], { pattern: '^(compute|scheduler)$', priority: '5' }),
    );
    expect(over.warnings[1]).toMatch(
      /^The new policy outranks `ha-rpc` .* on 2 of these queue\(s\) and REPLACES it there: `ha-mode`, `ha-params`, `ha-sync-mode` stop applying to them, so they lose their mirrors\./,
    );
    expect(over.actions[0]?.data.samples).toEqual(['compute', 'scheduler']);
    const under = await applyPolicyWorkflow.plan(
      contextOf(management),
      argsOf(['max-length'], { pattern: '^(compute|scheduler)$' }),
    );
    expect(under.warnings[1]).toMatch(
      /^`ha-rpc` .* governs 2 of these queue\(s\) and outranks the new policy, which will NOT apply to them\. Add `max-length` to `ha-rpc` instead, or choose --priority above 1\.$/,
    );
    // Hidden on every matching queue: nothing to confirm it on.
    expect(under.actions[0]?.data.samples).toEqual([]);
  });

  it('warns when nothing matches now, but still proposes the policy for queues declared later', async () => {
    const { management } = fakeManagement();
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf(['expiry'], { pattern: '^nothing_' }));
    expect(plan.warnings[0]).toBe(
      'No queue of vhost `/` matches `^nothing_` now: the policy will only govern queues declared later. Check the pattern.',
    );
    expect(plan.actions).toHaveLength(1);
  });

  it('refuses a name taken by another definition, and a policy already in place', async () => {
    const { management } = fakeManagement();
    await expect(
      applyPolicyWorkflow.plan(contextOf(management), argsOf(['expiry'], { name: 'reply-expiry' })),
    ).rejects.toThrow(
      'A policy named `reply-expiry` already exists on vhost `/` with a different definition (pattern `^reply_`, ' +
        '`{"expires":1800000}`, priority 0, apply-to queues). Choose another name with --name, or change that policy by hand.',
    );
    await expect(
      applyPolicyWorkflow.plan(
        contextOf(management),
        argsOf(['expiry'], { name: 'reply-expiry', pattern: '^reply_', value: '30m' }),
      ),
    ).rejects.toThrow('Policy `reply-expiry` on vhost `/` is already in place with this definition: nothing to do.');
  });

  it('refuses an unknown vhost and a pattern too slow to match', async () => {
    const { management } = fakeManagement();
    await expect(
      applyPolicyWorkflow.plan(contextOf(management), argsOf(['expiry'], { vhost: 'nova' })),
    ).rejects.toThrow('There is no vhost `nova` on `local`.');
    const slow = fakeManagement({ queues: [{ name: `${'a'.repeat(60)}!`, vhost: '/' }] });
    await expect(
      applyPolicyWorkflow.plan(contextOf(slow.management), argsOf(['expiry'], { pattern: '^(a|a)+$' })),
    ).rejects.toThrow(/backtracks catastrophically/);
  }, 20_000);
});

describe('apply-policy steps', () => {
  async function planned(options: Parameters<typeof fakeManagement>[0] = {}) {
    const fake = fakeManagement(options);
    const context = contextOf(fake.management);
    const args = argsOf(['expiry']);
    const plan = await applyPolicyWorkflow.plan(context, args);
    return { ...fake, context, args, action: plan.actions[0] as PlannedAction };
  }

  it('guard: passes while the name is free or holds exactly this definition, aborts when taken meanwhile', async () => {
    const { context, args, action, policies } = await planned();
    expect(await applyPolicyWorkflow.guard(context, action, args)).toBeUndefined();
    await applyPolicyWorkflow.execute(context, action, args);
    expect(await applyPolicyWorkflow.guard(context, action, args)).toBeUndefined();
    policies.set('warren-expiry', { ...(policies.get('warren-expiry') as Policy), priority: 7 });
    expect(await applyPolicyWorkflow.guard(context, action, args)).toEqual({
      reason:
        'policy `warren-expiry` now exists with another definition (pattern `(_fanout_|^reply_)`, `{"expires":1800000}`, priority 7, apply-to queues): not overwritten',
      abort: true,
    });
  });

  it('execute: PUTs the policy once; a second run changes nothing', async () => {
    const { context, args, action, sent } = await planned();
    expect(await applyPolicyWorkflow.execute(context, action, args)).toBe(
      'policy `warren-expiry` set: {"expires":1800000} for `(_fanout_|^reply_)`',
    );
    expect(sent).toEqual([
      {
        method: 'PUT',
        path: '/api/policies/%2F/warren-expiry',
        data: { pattern: '(_fanout_|^reply_)', definition: { expires: 1_800_000 }, priority: 0, 'apply-to': 'queues' },
      },
    ]);
    expect(await applyPolicyWorkflow.execute(context, action, args)).toBe('already in place; nothing changed');
    expect(sent).toHaveLength(1);
  });

  it('execute: never overwrites a policy of the same name that appeared meanwhile', async () => {
    const { context, args, action, policies, sent } = await planned();
    policies.set('warren-expiry', { ...fixturePolicies[1], name: 'warren-expiry' } as Policy);
    await expect(applyPolicyWorkflow.execute(context, action, args)).rejects.toThrow(/appeared meanwhile/);
    expect(sent).toEqual([]);
  });

  it('verify: the policy reads back and the sample queues report it as their policy', async () => {
    const { context, args, action } = await planned();
    await applyPolicyWorkflow.execute(context, action, args);
    const verification = await applyPolicyWorkflow.verify(context, [action], args);
    expect(verification.ok).toBe(true);
    expect(verification.detail).toMatch(
      /^policy `warren-expiry` is in place and `cinder-volume_fanout_storage1:cinder-volume:1`, .* report it as their policy$/,
    );
  });

  it('verify: fails when the queues do not take the policy within about 15 s, or the policy is missing', async () => {
    const { context, args, action } = await planned({ applies: false });
    expect(await applyPolicyWorkflow.verify(context, [action], args)).toEqual({
      ok: false,
      detail: 'policy `warren-expiry` is missing after the PUT',
    });
    await applyPolicyWorkflow.execute(context, action, args);
    vi.useFakeTimers();
    const pending = applyPolicyWorkflow.verify(context, [action], args);
    await vi.advanceTimersByTimeAsync(16_000);
    const verification = await pending;
    expect(verification.ok).toBe(false);
    expect(verification.detail).toMatch(
      /^policy `warren-expiry` is in place, but after 15s these queues still do not report it: `cinder-volume_fanout_storage1:cinder-volume:1` \(no policy\)/,
    );
  });

  it('rollback: deletes the policy it set, and leaves alone one changed since', async () => {
    const { context, args, action, policies } = await planned();
    await applyPolicyWorkflow.execute(context, action, args);
    expect(await applyPolicyWorkflow.rollback?.(context, [action], args)).toBe('policy `warren-expiry`: deleted');
    expect(policies.has('warren-expiry')).toBe(false);
    expect(await applyPolicyWorkflow.rollback?.(context, [action], args)).toBe('policy `warren-expiry`: already gone');
    await applyPolicyWorkflow.execute(context, action, args);
    policies.set('warren-expiry', { ...(policies.get('warren-expiry') as Policy), definition: { expires: 60_000 } });
    expect(await applyPolicyWorkflow.rollback?.(context, [action], args)).toMatch(
      /^policy `warren-expiry`: changed since this run set it .*; left alone$/,
    );
    expect(policies.has('warren-expiry')).toBe(true);
  });
});

describe('apply-policy from an alert', () => {
  const alert = (check: string, findings: Partial<Finding>[]): AlertState =>
    ({ id: `${check}@local`, cluster: 'local', check, findings }) as unknown as AlertState;

  it('fixes policy-coverage expiry findings with an expiry policy on their vhost', () => {
    expect(
      applyPolicyWorkflow.argsForAlert?.(
        alert('policy-coverage', [
          { data: { kind: 'ha', vhost: '/' } },
          { data: { kind: 'expiry', vhost: 'openstack' } },
        ]),
      ),
    ).toEqual({ kind: 'expiry', vhost: 'openstack' });
    expect(
      applyPolicyWorkflow.argsForAlert?.(alert('policy-coverage', [{ data: { kind: 'expiry', vhost: 'my cloud' } }])),
    ).toEqual({ kind: 'expiry', vhost: 'my cloud' });
    expect(
      applyPolicyWorkflow.argsForAlert?.(alert('policy-coverage', [{ data: { kind: 'ha', vhost: '/' } }])),
    ).toEqual({});
  });

  it('fixes backlogs of unread notification queues with a length limit', () => {
    expect(
      applyPolicyWorkflow.argsForAlert?.(
        alert('backlog', [
          { data: { vhost: '/', name: 'conductor', notifications: false } },
          { data: { vhost: '/', name: 'notifications.info', notifications: true } },
        ]),
      ),
    ).toEqual({ kind: 'max-length', vhost: '/' });
    expect(
      applyPolicyWorkflow.argsForAlert?.(alert('backlog', [{ data: { vhost: '/', notifications: false } }])),
    ).toEqual({});
  });

  it('gives arguments the argument parser reads back', async () => {
    const fromAlert = applyPolicyWorkflow.argsForAlert?.(
      alert('policy-coverage', [{ data: { kind: 'expiry', vhost: 'my cloud' } }]),
    );
    expect(parseWorkflowArgs(applyPolicyWorkflow, { positionals: [], flags: {} }, fromAlert).data).toMatchObject({
      kind: 'expiry',
      vhost: 'my cloud',
    });
  });
});
