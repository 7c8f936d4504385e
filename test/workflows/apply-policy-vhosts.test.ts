/**
 * apply-policy over several vhosts in one run: `--vhost` as a comma list or `*`, one guarded step per vhost, and
 * vhosts that do not exist refused at plan time with those that do. The broker here is a small fake of the
 * management API with three vhosts; the real broker is driven in test/workflows/apply-policy-vhosts.int.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { ManagementApiError, WorkflowRefusedError } from '../../src/errors.js';
import type { ManagementClient } from '../../src/management/management-client.js';
import { planReach } from '../../src/remediation/run-message.js';
import {
  describeArgs,
  parseWorkflowArgs,
  planVhosts,
  type WorkflowContext,
} from '../../src/remediation/workflow-definition.js';
import { applyPolicyWorkflow } from '../../workflows/apply-policy.js';

type Policy = {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': string;
  definition: object;
  priority: number;
};

/** Three vhosts, each with one oslo fanout queue; `policies` are there already. A PUT stores the policy. */
function fakeBroker(policies: Policy[] = []) {
  const vhosts = ['/', '/nova', '/neutron'];
  const stored = new Map(policies.map((p) => [`${p.vhost}\u0000${p.name}`, p]));
  const sent: { method: string; path: string }[] = [];
  const answer = (path: string): unknown => {
    if (path === '/api/vhosts') return vhosts.map((name) => ({ name }));
    const parts = path.split('/').slice(2).map(decodeURIComponent);
    const [kind, vhost, name] = parts as [string, string, string | undefined];
    if (!vhosts.includes(vhost)) throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
    if (kind === 'vhosts') return { name: vhost };
    if (kind === 'queues' && name === undefined) {
      return [{ name: `compute_fanout_${vhost.replace('/', '') || 'root'}`, vhost, policy: null, type: 'classic' }];
    }
    if (kind === 'policies' && name === undefined) return [...stored.values()].filter((p) => p.vhost === vhost);
    const policy = kind === 'policies' ? stored.get(`${vhost}\u0000${name}`) : undefined;
    if (policy) return policy;
    throw new ManagementApiError(path, 404, `HTTP 404 from ${path}`);
  };
  const management = {
    cluster: 'local',
    get: async (path: string, schema: { parse(v: unknown): unknown }) => schema.parse(answer(path)),
    send: async (method: string, path: string) => {
      sent.push({ method, path });
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

const parse = (vhost: string) => parseWorkflowArgs(applyPolicyWorkflow, { positionals: ['expiry'], flags: { vhost } });
const argsOf = (vhost: string) => {
  const parsed = parse(vhost);
  if (!parsed.success) throw new Error(parsed.error.message);
  return parsed.data;
};

describe('apply-policy --vhost over several vhosts', () => {
  it('reads a comma list, once each, and * for every vhost; one vhost stays a plain name', () => {
    expect(argsOf('/nova, /neutron,/nova')).toMatchObject({ kind: 'expiry', vhost: ['/nova', '/neutron'] });
    expect(argsOf('*')).toMatchObject({ vhost: '*' });
    expect(argsOf('/nova')).toMatchObject({ vhost: '/nova' });
    expect(describeArgs(argsOf('/nova,/neutron'))).toContain('vhost=/nova,/neutron');
  });

  it('refuses an empty name in the list and * with other vhosts', () => {
    expect(parse('/nova,,/neutron').error?.issues[0]?.message).toBe('--vhost "/nova,,/neutron" names an empty vhost');
    expect(parse('*,/nova').error?.issues[0]?.message).toBe("--vhost '*' means every vhost: name no other with it");
  });

  it('takes its own output back unchanged, as a stored run is parsed again', () => {
    const args = argsOf('/nova,/neutron');
    expect(applyPolicyWorkflow.args.parse(JSON.parse(JSON.stringify(args)))).toEqual(args);
  });

  it('plans one step per vhost, each naming its vhost, and the plan acts in both', async () => {
    const { management, sent } = fakeBroker();
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf('/nova,/neutron'));
    expect(plan.summary).toBe(
      'add policy `warren-expiry` on 2 vhosts (`/nova`, `/neutron`): expires 1,800,000 ms (30m) for queues ' +
        'matching `(_fanout_|^reply_)` (2 now)',
    );
    expect(plan.actions.map((a) => [a.key, a.vhosts])).toEqual([
      ['policy:/nova/warren-expiry', ['/nova']],
      ['policy:/neutron/warren-expiry', ['/neutron']],
    ]);
    expect(plan.actions[1]?.label).toMatch(/^set policy `warren-expiry` \(vhost `\/neutron`\): /);
    expect(plan.actions[1]?.data).toMatchObject({ vhost: '/neutron', samples: ['compute_fanout_neutron'] });
    expect(plan.warnings[0]).toBe(
      'In vhost `/nova`: It applies at once to the 1 queue(s) that match now: `compute_fanout_nova`.',
    );
    expect(planVhosts(plan)).toEqual(['/neutron', '/nova']);
    expect(planReach(plan)).toBe('Acts in vhosts `/neutron`, `/nova`');
    expect(sent).toEqual([]);
  });

  it('plans every vhost for *', async () => {
    const { management } = fakeBroker();
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf('*'));
    expect(plan.actions.map((a) => a.data.vhost)).toEqual(['/', '/neutron', '/nova']);
  });

  it('refuses vhosts that do not exist, naming those that do', async () => {
    const { management } = fakeBroker();
    const planning = applyPolicyWorkflow.plan(contextOf(management), argsOf('/nova,/cinder,/glance'));
    await expect(planning).rejects.toThrow(WorkflowRefusedError);
    await expect(planning).rejects.toThrow(
      'There is no vhost `/cinder`, `/glance` on `local`. Its vhosts: `/`, `/neutron`, `/nova`.',
    );
  });

  it('leaves out a vhost where the policy is already in place, and refuses when it is everywhere', async () => {
    const policy = (vhost: string): Policy => ({
      vhost,
      name: 'warren-expiry',
      pattern: '(_fanout_|^reply_)',
      'apply-to': 'queues',
      definition: { expires: 1_800_000 },
      priority: 0,
    });
    const some = fakeBroker([policy('/nova')]);
    const plan = await applyPolicyWorkflow.plan(contextOf(some.management), argsOf('/nova,/neutron'));
    expect(plan.actions.map((a) => a.vhosts)).toEqual([['/neutron']]);
    expect(plan.warnings[0]).toBe(
      'Policy `warren-expiry` is already in place with this definition on `/nova`: no step there.',
    );
    const all = fakeBroker([policy('/nova'), policy('/neutron')]);
    await expect(applyPolicyWorkflow.plan(contextOf(all.management), argsOf('/nova,/neutron'))).rejects.toThrow(
      'Policy `warren-expiry` on vhosts `/nova`, `/neutron` is already in place with this definition: nothing to do.',
    );
  });

  it('refuses the whole run when the name holds another definition in one of the vhosts', async () => {
    const other = {
      vhost: '/neutron',
      name: 'warren-expiry',
      pattern: '^x',
      'apply-to': 'queues',
      definition: {},
      priority: 0,
    };
    const { management } = fakeBroker([other]);
    await expect(applyPolicyWorkflow.plan(contextOf(management), argsOf('/nova,/neutron'))).rejects.toThrow(
      'A policy named `warren-expiry` already exists on vhost `/neutron` with a different definition',
    );
  });

  it('rolls back per vhost: each step undoes only its own vhost', async () => {
    const { management, sent } = fakeBroker();
    const plan = await applyPolicyWorkflow.plan(contextOf(management), argsOf('/nova,/neutron'));
    // Nothing was set by the fake PUT, so each policy reads as already gone: no DELETE goes out.
    const result = await applyPolicyWorkflow.rollback?.(contextOf(management), plan.actions, argsOf('/nova,/neutron'));
    expect(result).toBe('policy `warren-expiry`: already gone; policy `warren-expiry`: already gone');
    expect(sent).toEqual([]);
  });
});

describe('the reach of a plan', () => {
  it('says a node-level plan acts in no vhost, and names the default vhost too', () => {
    const action = (vhosts?: string[]) => ({ key: 'k', label: 'l', data: {}, ...(vhosts ? { vhosts } : {}) });
    const plan = (actions: ReturnType<typeof action>[]) => ({ summary: '', warnings: [], guards: [], actions });
    expect(planReach(plan([action(), action()]))).toBe('Acts on nodes or the whole cluster, in no vhost');
    expect(planVhosts(plan([action()]))).toEqual([]);
    expect(planReach(plan([action(['/']), action(['/'])]))).toBe('Acts in vhost `/`');
  });
});
