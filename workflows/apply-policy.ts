/**
 * `fix apply-policy <expiry|max-length> [--pattern REGEX] [--vhost V] [--name N] [--value …] [--priority P]`
 * (runbooks 1.2 and 1.3): adds the policy that prevents a problem instead of cleaning up after it:
 * - `expiry`: an `expires` policy over oslo's `_fanout_` and `reply_` queues, so the queue a dead process leaves
 *   behind deletes itself after 30 idle minutes (oslo's own `rabbit_transient_queues_ttl`);
 * - `max-length`: a `max-length` policy over the `notifications.*` queues nobody consumes, so they stop growing;
 * - the 4.x replacements, each for one queue type (`apply-to`, 3.12 and later): `transient-expiry` (the `expires`
 *   that oslo's transient quorum queues lack when `rabbit_transient_queues_ttl = 0`), `delivery-limit` (a limit with
 *   the dead-letter exchange `--dlx` that takes what 4.0 would drop past it) and `stream-retention` (`max-age` on
 *   the `<topic>_fanout` streams, which grow until the disk alarm without it).
 * A queue takes only the highest-priority policy that matches it, so the preview names the policies the new one
 * would replace (their keys, `ha-mode` say, stop applying) or be hidden by, from each matching queue's effective
 * `policy` as the broker reports it. It refuses a name already taken by another definition, and re-checks that
 * before the PUT; the rollback deletes the policy if it still holds exactly what this run set. Risk medium: a policy
 * changes every matching queue at once, including queues declared later.
 */

import vm from 'node:vm';
import { z } from 'zod';
import { formatCount } from '../src/chat/human-format.js';
import { vhostList } from '../src/chat/vhost-text.js';
import { formatDuration, parseDuration } from '../src/config/duration.js';
import { ManagementApiError, StepFailedError, WorkflowRefusedError } from '../src/errors.js';
import type { AlertState } from '../src/health/alert-state.js';
import {
  atLeast,
  classicMirroringReplacement,
  clusterBrokerVersion,
  hasClassicMirroring,
  notApplicableOn,
} from '../src/management/broker-version.js';
import type { ManagementClient } from '../src/management/management-client.js';
import { type ManagementPolicy, policySchema, queueSchema } from '../src/management/schemas.js';
import { queuePath } from '../src/remediation/broker-state.js';
import { pollUntil } from '../src/remediation/poll.js';
import { defineWorkflow, type PlannedAction } from '../src/remediation/workflow-definition.js';

const KINDS = {
  expiry: {
    key: 'expires',
    pattern: '(_fanout_|^reply_)',
    value: 1_800_000,
    flagHelp: '--value takes milliseconds or a duration such as 30m (at least 1m)',
  },
  'max-length': {
    key: 'max-length',
    pattern: '^(versioned_)?notifications\\.',
    value: 10_000,
    flagHelp: '--value takes a number of messages (at least 1)',
  },
  // The 4.x replacements (3.12 and later know `apply-to` by queue type):
  // oslo's transient quorum queues with `rabbit_transient_queues_ttl = 0` carry no `x-expires`: the policy sets it.
  'transient-expiry': {
    key: 'expires',
    pattern: '(_fanout_|^reply_)',
    value: 1_800_000,
    applyTo: 'quorum_queues',
    flagHelp: '--value takes milliseconds or a duration such as 30m (at least 1m)',
  },
  // What a quorum queue drops past its delivery limit (20 by default on 4.0) goes to the dead-letter exchange.
  'delivery-limit': {
    key: 'delivery-limit',
    pattern: '.*',
    value: 20,
    applyTo: 'quorum_queues',
    flagHelp: '--value takes a number of deliveries (at least 1)',
  },
  // Stream retention: without it a stream grows until the disk alarm. RabbitMQ takes `max-age` as e.g. `1800s`.
  'stream-retention': {
    key: 'max-age',
    pattern: '_fanout$',
    value: 1_800_000,
    applyTo: 'streams',
    flagHelp: '--value takes milliseconds or a duration such as 30m (at least 1m)',
  },
} as const;
type ApplyTo = 'queues' | 'quorum_queues' | 'streams';
/** The kinds whose value is a duration (given in ms, or as `30m`). */
const DURATION_KINDS: readonly string[] = ['expiry', 'transient-expiry', 'stream-retention'];
const applyToOf = (kind: Kind): ApplyTo => {
  const spec = KINDS[kind];
  return 'applyTo' in spec ? spec.applyTo : 'queues';
};
/** The policy definition of a kind: the value in the broker's form, and the dead-letter exchange with a limit. */
function definitionOf(kind: Kind, value: number, dlx: string | undefined): Record<string, number | string> {
  if (kind === 'stream-retention') return { 'max-age': `${Math.round(value / 1000)}s` };
  if (kind === 'delivery-limit') return { 'delivery-limit': value, 'dead-letter-exchange': dlx ?? '' };
  return { [KINDS[kind].key]: value };
}
type Kind = keyof typeof KINDS;
const KIND_NAMES = Object.keys(KINDS) as Kind[];
const KIND_LIST = `${KIND_NAMES.slice(0, -1).join(', ')} or ${KIND_NAMES.at(-1)}`;

/** Longer patterns are refused: a policy pattern is a queue-name filter, not a program. */
export const MAX_PATTERN_LENGTH = 200;
/** RabbitMQ's limit on a queue name (a short string): no longer name exists to be matched. */
const MAX_NAME_LENGTH = 255;
/** Time for matching the pattern against every queue name of the vhost in the preview. */
const MATCH_BUDGET_MS = 1_000;
/** An expiry shorter than this would delete the queues of processes that are merely reconnecting. */
const MIN_EXPIRES_MS = 60_000;
const LISTED = 15;
const SAMPLES = 5;
const VERIFY_WAIT_MS = 15_000;
const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
/** `--vhost '*'`: every vhost of the cluster, read at plan time. */
const EVERY_VHOST = '*';

/**
 * `--vhost` as typed: one vhost, a comma list (the argument parser keeps only the last of a repeated flag, and a
 * vhost name with a comma is rare enough to name by hand), or `*`.
 */
function vhostWords(typed: string, ctx: z.RefinementCtx): string | string[] {
  const names = [...new Set(typed.split(',').map((v) => v.trim()))];
  if (names.some((v) => v === '')) {
    ctx.addIssue({ code: 'custom', message: `--vhost "${typed}" names an empty vhost` });
    return z.NEVER;
  }
  if (names.length > 1 && names.includes(EVERY_VHOST)) {
    ctx.addIssue({ code: 'custom', message: `--vhost '*' means every vhost: name no other with it` });
    return z.NEVER;
  }
  return names.length === 1 ? (names[0] as string) : names;
}

/**
 * A mirroring kind asked for (`ha-mode`, `ha-sync-mode`, `mirror` …): parsed so that the plan can refuse it with the
 * reason for this cluster's version (on 4.0 the keys do not exist; before, warren does not set them).
 */
const MIRRORING_KIND = /^(ha|ha-.*|mirror|mirrors|mirroring|mirrored)$/i;

interface MirroringArgs {
  kind: 'mirroring';
  requested: string;
}

type Args = PolicyArgs | MirroringArgs;

interface PolicyArgs {
  kind: Kind;
  pattern: string;
  /** One vhost, several (`--vhost /nova,/neutron`), or `*` for every vhost; the cluster's own vhost when absent. */
  vhost?: string | string[];
  name: string;
  value: number;
  priority: number;
  /** delivery-limit only: where dropped messages go instead. */
  dlx?: string;
}

/** The policy a step sets, as JSON; `samples` are matching queues it should govern, for the verification. */
interface PolicyData {
  vhost: string;
  name: string;
  pattern: string;
  definition: Record<string, number | string>;
  priority: number;
  applyTo: ApplyTo;
  samples: string[];
}

const data = (action: PlannedAction) => action.data as unknown as PolicyData;
const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** Why `pattern` cannot be a policy pattern, or undefined when it compiles within the length cap. */
export function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return 'the pattern is empty';
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return `the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are accepted`;
  }
  try {
    // Compiling is linear in the pattern; only matching can backtrack (see namesMatching).
    new RegExp(pattern);
    return undefined;
  } catch (error) {
    return `\`${pattern}\` is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * The names `pattern` matches. The pattern is typed by a user, and a JavaScript RegExp backtracks: `(a+)+$`
 * against a 30-character name takes seconds, and the work grows exponentially with the length. So only names of a
 * length a queue can have are tested, and the whole match runs in a separate V8 context with a time budget, which
 * interrupts a runaway match instead of blocking warren's event loop; a pattern that exhausts the budget is
 * refused. (The broker matches with Erlang's PCRE; for the patterns policies use the two engines agree, and a
 * pattern PCRE rejects makes the PUT fail with the broker's reason.)
 */
export function namesMatching(pattern: string, names: readonly string[], budgetMs = MATCH_BUDGET_MS): Set<string> {
  const bounded = names.filter((n) => n.length <= MAX_NAME_LENGTH);
  let matched: unknown;
  try {
    matched = vm.runInNewContext(
      'const re = new RegExp(pattern); names.filter((name) => re.test(name))',
      { pattern, names: bounded },
      { timeout: budgetMs },
    );
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new WorkflowRefusedError(
        `Matching \`${pattern}\` against ${formatCount(bounded.length)} queue names took more than ${formatDuration(budgetMs)}: ` +
          'the pattern backtracks catastrophically (nested quantifiers such as `(a+)+`). Simplify it.',
      );
    }
    throw error;
  }
  // The array comes from the other context: copy its strings into this one.
  return new Set(Array.from(matched as ArrayLike<unknown>, String));
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

function sameDefinition(policy: ManagementPolicy, want: PolicyData): boolean {
  return (
    policy.pattern === want.pattern &&
    policy.priority === want.priority &&
    policy['apply-to'] === want.applyTo &&
    canonical(policy.definition) === canonical(want.definition)
  );
}

function describePolicy(p: Pick<ManagementPolicy, 'pattern' | 'definition' | 'priority' | 'apply-to'>): string {
  return `pattern \`${p.pattern}\`, \`${canonical(p.definition)}\`, priority ${p.priority}, apply-to ${p['apply-to']}`;
}

function valueText(kind: Kind, value: number): string {
  if (DURATION_KINDS.includes(kind)) return `${formatCount(value)} ms (${formatDuration(value)})`;
  return kind === 'delivery-limit' ? `${formatCount(value)} deliveries` : `${formatCount(value)} messages`;
}

/** What the new policy does to a matching queue, for the plan's warnings. */
function effectText(args: PolicyArgs): string {
  switch (args.kind) {
    case 'expiry':
    case 'transient-expiry':
      return `A matching queue left unused (no consumer, no basic.get, not redeclared) for ${formatDuration(args.value)} is deleted with its messages; RabbitMQ applies the lower of this and the queue's own \`x-expires\`.`;
    case 'max-length':
      return `A matching queue keeps its newest ${formatCount(args.value)} messages and drops the oldest beyond them: notifications nobody read in time are lost instead of filling the broker.`;
    case 'delivery-limit':
      return `A message returned to a matching quorum queue more than ${formatCount(args.value)} times goes to exchange \`${args.dlx}\` instead of being dropped; a queue's own \`x-delivery-limit\` still wins where it is lower.`;
    case 'stream-retention':
      return `A matching stream deletes its segments older than ${formatDuration(args.value)}: servers reading behind that lose what they had not read.`;
  }
}

const policyPath = (vhost: string, name: string) =>
  `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`;

async function freshPolicy(
  management: ManagementClient,
  vhost: string,
  name: string,
): Promise<ManagementPolicy | undefined> {
  try {
    return await management.get(policyPath(vhost, name), policySchema);
  } catch (error) {
    if (error instanceof ManagementApiError && error.status === 404) return undefined;
    throw error;
  }
}

function argsForAlert(alert: AlertState): Partial<PolicyArgs> {
  const facts = alert.findings.map((f) => f.data ?? {});
  const pick = (kind: Kind, fits: (d: Record<string, unknown>) => boolean): Partial<PolicyArgs> => {
    const finding = facts.find((d) => fits(d) && typeof d.vhost === 'string');
    return finding ? { kind, vhost: finding.vhost as string } : {};
  };
  // policy-coverage: its `expiry` findings (fanout/reply queues that never expire), one vhost per run.
  if (alert.check === 'policy-coverage') return pick('expiry', (d) => d.kind === 'expiry');
  // backlog: notification queues nothing consumes; the default pattern covers both notification topics.
  if (alert.check === 'backlog') return pick('max-length', (d) => d.notifications === true);
  return {};
}

/**
 * Why `apply-policy <ha-…>` is refused, for the cluster's version read fresh from /api/nodes: on 4.0 and later the
 * keys were removed, with what replaces them; before, mirroring is deprecated and warren does not set it.
 */
async function mirroringRefusal(management: ManagementClient, requested: string): Promise<WorkflowRefusedError> {
  const nodes = await management.nodes().catch(() => undefined);
  const version = nodes && clusterBrokerVersion(nodes.filter((n) => n.running));
  const kinds = `apply-policy sets ${KIND_LIST} policies.`;
  if (version && !hasClassicMirroring(version)) {
    return new WorkflowRefusedError(
      `\`${requested}\` is ${notApplicableOn(version)}. ${classicMirroringReplacement(version)} ${kinds}`,
    );
  }
  const running = version ? `this cluster runs ${version.raw}` : 'the cluster version could not be read';
  return new WorkflowRefusedError(
    `warren does not set classic mirroring policies (\`${requested}\`; ${running}): mirroring is deprecated and ` +
      'RabbitMQ 4.0 removed it, so plan for quorum queues (`x-queue-type: quorum`; oslo.messaging ' +
      '`rabbit_quorum_queue = true`) instead. If you must, set it by hand with `rabbitmqctl set_policy`. ' +
      kinds,
  );
}

/** What the plan proposes in one vhost: a step with its warnings, or nothing because the policy is already there. */
type VhostPlan =
  | { vhost: string; inPlace: true }
  | { vhost: string; action: PlannedAction; warnings: string[]; matched: number };

/**
 * The vhosts a run acts in: the one named, those of a list, or every vhost of the cluster for `*`. A vhost that does
 * not exist is refused at plan time, with the vhosts that do.
 */
async function targetVhosts(
  management: ManagementClient,
  cluster: string,
  wanted: string | readonly string[],
): Promise<string[]> {
  const existing = () => management.get('/api/vhosts', z.array(vhostSchema)).then((list) => list.map((v) => v.name));
  if (wanted === EVERY_VHOST) {
    const all = (await existing()).sort();
    if (all.length === 0) throw new WorkflowRefusedError(`\`${cluster}\` lists no vhost.`);
    return all;
  }
  const names = typeof wanted === 'string' ? [wanted] : [...new Set(wanted)];
  const missing: string[] = [];
  for (const vhost of names) {
    try {
      await management.get(`/api/vhosts/${encodeURIComponent(vhost)}`, vhostSchema);
    } catch (error) {
      if (!(error instanceof ManagementApiError && error.status === 404)) throw error;
      missing.push(vhost);
    }
  }
  if (missing.length > 0) {
    const known = await existing().catch(() => undefined);
    throw new WorkflowRefusedError(
      `There is no vhost ${vhostList(missing)} on \`${cluster}\`.` +
        (known ? ` Its vhosts: ${vhostList(known.sort())}.` : ''),
    );
  }
  return names;
}

/** The step for one vhost, with what the approver must know about that vhost's queues and policies. */
async function planInVhost(
  management: ManagementClient,
  args: PolicyArgs,
  vhost: string,
  applyTo: ApplyTo,
): Promise<VhostPlan> {
  const spec = KINDS[args.kind];
  const [policies, queues] = await Promise.all([
    management.get(`/api/policies/${encodeURIComponent(vhost)}`, z.array(policySchema)),
    // The cheap listing: names and effective policies are all the preview needs.
    management.get(`/api/queues/${encodeURIComponent(vhost)}`, policyQueues, {
      disable_stats: 'true',
      enable_queue_totals: 'true',
      columns: 'name,vhost,policy,type',
    }),
  ]);
  const want: PolicyData = {
    vhost,
    name: args.name,
    pattern: args.pattern,
    definition: definitionOf(args.kind, args.value, args.dlx),
    priority: args.priority,
    applyTo,
    samples: [],
  };
  const existing = policies.find((p) => p.name === args.name);
  if (existing && sameDefinition(existing, want)) return { vhost, inPlace: true };
  if (existing) {
    throw new WorkflowRefusedError(
      `A policy named \`${args.name}\` already exists on vhost \`${vhost}\` with a different definition ` +
        `(${describePolicy(existing)}). Choose another name with --name, or change that policy by hand.`,
    );
  }

  const matching = namesMatching(
    args.pattern,
    queues.map((q) => q.name),
  );
  // A policy for one queue type governs only queues of that type.
  const ofType = (q: (typeof queues)[number]) =>
    applyTo === 'queues' || (applyTo === 'streams' ? q.type === 'stream' : q.type === 'quorum');
  const matched = queues.filter((q) => matching.has(q.name) && ofType(q)).sort((a, b) => a.name.localeCompare(b.name));
  // Each matching queue's effective policy (the broker's own choice) is the one the new policy must outrank.
  const byPolicy = new Map<string, string[]>();
  for (const q of matched) {
    if (!q.policy) continue;
    const names = byPolicy.get(q.policy);
    if (names) names.push(q.name);
    else byPolicy.set(q.policy, [q.name]);
  }
  const warnings: string[] = [];
  if (matched.length === 0) {
    warnings.push(
      `No queue of vhost \`${vhost}\` matches \`${args.pattern}\` now: the policy will only govern queues declared later. Check the pattern.`,
    );
  } else {
    const names = code(matched.slice(0, LISTED).map((q) => q.name));
    const more = matched.length > LISTED ? ` and ${formatCount(matched.length - LISTED)} more` : '';
    warnings.push(`It applies at once to the ${formatCount(matched.length)} queue(s) that match now: ${names}${more}.`);
  }
  const outranked = new Set<string>();
  for (const [policyName, names] of [...byPolicy].sort(([a], [b]) => a.localeCompare(b))) {
    const other = policies.find((p) => p.name === policyName);
    const count = `${formatCount(names.length)} of these queue(s)`;
    if (!other) continue;
    if (other.priority > args.priority) {
      for (const n of names) outranked.add(n);
      warnings.push(
        `\`${other.name}\` (${describePolicy(other)}) governs ${count} and outranks the new policy, which will NOT apply to them. ` +
          `Add \`${spec.key}\` to \`${other.name}\` instead, or choose --priority above ${other.priority}.`,
      );
    } else if (other.priority < args.priority) {
      const keys = Object.keys(other.definition);
      warnings.push(
        `The new policy outranks \`${other.name}\` (${describePolicy(other)}) on ${count} and REPLACES it there: ` +
          `${keys.length > 0 ? code(keys) : 'its keys'} stop applying to them${'ha-mode' in other.definition ? ', so they lose their mirrors' : ''}. ` +
          `A queue takes one policy only: consider adding \`${spec.key}\` to \`${other.name}\` instead.`,
      );
    } else {
      for (const n of names) outranked.add(n);
      warnings.push(
        `\`${other.name}\` (${describePolicy(other)}) governs ${count} with the same priority: priority does not decide between the two, ` +
          `so the new policy may not apply to them. Choose --priority ${other.priority + 1} to outrank it, or add \`${spec.key}\` to \`${other.name}\` instead.`,
      );
    }
  }
  if (args.kind === 'delivery-limit' && args.dlx !== undefined) {
    const dlxExists = await management
      .get(`/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(args.dlx)}`, vhostSchema)
      .then(() => true)
      .catch((error: unknown) => {
        if (error instanceof ManagementApiError && error.status === 404) return false;
        throw error;
      });
    if (!dlxExists) {
      warnings.push(
        `Exchange \`${args.dlx}\` does not exist on vhost \`${vhost}\`: dead-lettering to a missing exchange drops the message all the same. Declare it, with a queue bound to it, before relying on the policy.`,
      );
    }
  }
  const samples = matched
    .map((q) => q.name)
    .filter((n) => !outranked.has(n))
    .slice(0, SAMPLES);
  return {
    vhost,
    warnings,
    matched: matched.length,
    action: {
      key: `policy:${vhost}/${args.name}`,
      label: `set policy \`${args.name}\` (vhost \`${vhost}\`): ${describePolicy({ pattern: want.pattern, definition: want.definition, priority: want.priority, 'apply-to': want.applyTo })}`,
      data: { ...want, samples },
      vhosts: [vhost],
    },
  };
}

const text = (name: string) => z.string({ error: `--${name} needs a value` });
const ONE_KIND = `name one kind of policy: ${KIND_LIST}`;

const policyQueues = z.array(queueSchema.pick({ name: true, vhost: true, policy: true, type: true }));
const vhostSchema = z.looseObject({ name: z.string() });

export const applyPolicyWorkflow = defineWorkflow<Args>({
  name: 'apply-policy',
  description:
    'Add an expiry policy for oslo fanout/reply queues (transient quorum ones on 4.x), a length limit for unread ' +
    'notification queues, a delivery limit with a dead-letter exchange, or stream retention',
  risk: 'medium',
  usage:
    '<expiry|max-length|transient-expiry|delivery-limit|stream-retention> [--pattern REGEX] [--vhost V] [--name N] ' +
    '[--value V] [--priority P] [--dlx EXCHANGE]',
  words: z
    .object({
      positionals: z.array(z.string()).max(1, ONE_KIND),
      flags: z.strictObject(
        {
          pattern: text('pattern').optional(),
          vhost: text('vhost').transform(vhostWords).optional(),
          name: text('name').optional(),
          value: text('value').optional(),
          priority: text('priority')
            .regex(/^-?\d{1,4}$/, '--priority takes an integer')
            .transform(Number)
            .optional(),
          dlx: text('dlx').optional(),
        },
        { error: 'apply-policy takes --pattern, --vhost, --name, --value, --priority and --dlx' },
      ),
    })
    .transform(({ positionals, flags }) => ({ kind: positionals[0], ...flags })),
  // `value` is the words' text until the kind says how to read it (a duration or a count); stored, it is a number.
  args: z
    .object({
      kind: z.string({ error: ONE_KIND }),
      requested: z.string().optional(),
      pattern: z.string().optional(),
      vhost: z
        .union([
          z.string().min(1, '--vhost needs a value'),
          z.array(z.string().min(1, '--vhost names an empty vhost')).min(2, 'a list of vhosts names two or more'),
        ])
        .optional(),
      name: z.string().regex(POLICY_NAME, 'a policy name is letters, digits and . _ - : (at most 100)').optional(),
      value: z.union([z.number(), z.string()]).optional(),
      priority: z.number().int('--priority takes an integer').min(-9999).max(9999).optional(),
      dlx: z.string().max(MAX_NAME_LENGTH, 'an exchange name has at most 255 characters').optional(),
    })
    .transform((input, ctx): Args => {
      if (input.kind === 'mirroring' && input.requested !== undefined) {
        return { kind: 'mirroring', requested: input.requested };
      }
      if (MIRRORING_KIND.test(input.kind)) return { kind: 'mirroring', requested: input.kind };
      const kind = input.kind as Kind;
      if (!KIND_NAMES.includes(kind)) {
        ctx.addIssue({ code: 'custom', message: ONE_KIND });
        return z.NEVER;
      }
      const spec = KINDS[kind];
      const pattern = input.pattern ?? spec.pattern;
      const problem = patternProblem(pattern);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      let value: number = spec.value;
      if (input.value !== undefined) {
        const parsed =
          typeof input.value === 'number' || /^\d+$/.test(input.value)
            ? Number(input.value)
            : DURATION_KINDS.includes(kind)
              ? parseDuration(input.value)
              : undefined;
        const low = DURATION_KINDS.includes(kind) ? MIN_EXPIRES_MS : 1;
        if (parsed === undefined || !Number.isSafeInteger(parsed) || parsed < low) {
          ctx.addIssue({ code: 'custom', message: `bad --value "${input.value}": ${spec.flagHelp}` });
          return z.NEVER;
        }
        value = parsed;
      }
      if (kind === 'delivery-limit' && !input.dlx) {
        ctx.addIssue({
          code: 'custom',
          message: 'delivery-limit needs --dlx EXCHANGE: the dead-letter exchange that takes what would be dropped',
        });
        return z.NEVER;
      }
      if (input.dlx !== undefined && kind !== 'delivery-limit') {
        ctx.addIssue({ code: 'custom', message: '--dlx goes with delivery-limit only' });
        return z.NEVER;
      }
      return {
        kind,
        pattern,
        ...(input.vhost !== undefined ? { vhost: input.vhost } : {}),
        name: input.name ?? `warren-${kind}`,
        value,
        priority: input.priority ?? 0,
        ...(input.dlx !== undefined ? { dlx: input.dlx } : {}),
      };
    }),
  argsForAlert,
  // A mirroring request is refused by its plan; it would have acted in the cluster's vhost. `*` (every vhost) is
  // given as it is: only a scope that allows every vhost allows it.
  vhosts: (args, clusterVhost) => {
    const vhost = args.kind === 'mirroring' ? undefined : args.vhost;
    return vhost === undefined ? [clusterVhost] : typeof vhost === 'string' ? [vhost] : vhost;
  },

  async plan(context, args) {
    const { management } = context;
    if (args.kind === 'mirroring') throw await mirroringRefusal(management, args.requested);
    const spec = KINDS[args.kind];
    const applyTo = applyToOf(args.kind);
    if (applyTo !== 'queues') {
      const nodes = await management.nodes();
      const version = clusterBrokerVersion(nodes.filter((n) => n.running));
      if (!version || !atLeast(version, 3, 12)) {
        throw new WorkflowRefusedError(
          `\`${args.kind}\` is a policy for ${applyTo.replace('_', ' ')}, which RabbitMQ knows as a policy target from 3.12 on; ` +
            `this cluster runs ${version ? version.raw : 'an unknown version'}.`,
        );
      }
    }
    const vhosts = await targetVhosts(management, context.cluster, args.vhost ?? context.vhost);
    const parts: VhostPlan[] = [];
    for (const vhost of vhosts) parts.push(await planInVhost(management, args, vhost, applyTo));
    const steps = parts.filter((p): p is Extract<VhostPlan, { action: PlannedAction }> => 'action' in p);
    const inPlace = parts.filter((p) => !('action' in p)).map((p) => p.vhost);
    if (steps.length === 0) {
      throw new WorkflowRefusedError(
        `Policy \`${args.name}\` on vhost${inPlace.length > 1 ? 's' : ''} ${vhostList(inPlace)} is already in place with this definition: nothing to do.`,
      );
    }
    const several = vhosts.length > 1;
    // With several vhosts, each vhost's warnings say which vhost they are about.
    const warnings = steps.flatMap((p) => p.warnings.map((w) => (several ? `In vhost \`${p.vhost}\`: ${w}` : w)));
    if (inPlace.length > 0) {
      warnings.unshift(
        `Policy \`${args.name}\` is already in place with this definition on ${vhostList(inPlace)}: no step there.`,
      );
    }
    warnings.push(effectText(args));
    const matched = steps.reduce((sum, p) => sum + p.matched, 0);
    const where = several
      ? `on ${formatCount(steps.length)} vhosts (${vhostList(steps.map((p) => p.vhost))})`
      : `on vhost \`${(steps[0] as VhostPlan).vhost}\``;
    return {
      summary:
        `add policy \`${args.name}\` ${where}: ${spec.key} ${valueText(args.kind, args.value)} for queues ` +
        `matching \`${args.pattern}\` (${formatCount(matched)} now)`,
      warnings,
      actions: steps.map((p) => p.action),
      guards: [
        `the name \`${args.name}\` is still free on the vhost, or already holds exactly this definition (then nothing changes)`,
      ],
    };
  },

  async guard(context, action) {
    const want = data(action);
    const current = await freshPolicy(context.management, want.vhost, want.name);
    if (current && !sameDefinition(current, want)) {
      return {
        reason: `policy \`${want.name}\` now exists with another definition (${describePolicy(current)}): not overwritten`,
        abort: true,
      };
    }
    return undefined;
  },

  async execute(context, action) {
    const want = data(action);
    const current = await freshPolicy(context.management, want.vhost, want.name);
    if (current && sameDefinition(current, want)) return 'already in place; nothing changed';
    if (current)
      throw new StepFailedError(`policy \`${want.name}\` appeared meanwhile with another definition: not overwritten`);
    const { status } = await context.management.send('PUT', policyPath(want.vhost, want.name), {
      data: { pattern: want.pattern, definition: want.definition, priority: want.priority, 'apply-to': want.applyTo },
    });
    if (status === 404) throw new StepFailedError(`vhost \`${want.vhost}\` does not exist (any more)`);
    return `policy \`${want.name}\` set: ${canonical(want.definition)} for \`${want.pattern}\``;
  },

  async verify(context, done) {
    const details: string[] = [];
    for (const action of done) {
      const want = data(action);
      const current = await freshPolicy(context.management, want.vhost, want.name);
      if (!current) return { ok: false, detail: `policy \`${want.name}\` is missing after the PUT` };
      if (!sameDefinition(current, want)) {
        return { ok: false, detail: `policy \`${want.name}\` holds another definition: ${describePolicy(current)}` };
      }
      if (want.samples.length === 0) {
        details.push(`policy \`${want.name}\` is in place; no queue it governs now to confirm it on`);
        continue;
      }
      // The broker applies a policy to existing queues asynchronously: wait until the sample queues report it.
      let lagging: string[] = [];
      let confirmed: string[] = [];
      const settled = await pollUntil(async () => {
        lagging = [];
        confirmed = [];
        for (const name of want.samples) {
          const queue = await context.management
            .get(queuePath(want.vhost, name), policyQueues.element, { columns: 'name,vhost,policy' })
            .catch((error: unknown) => {
              if (error instanceof ManagementApiError && error.status === 404) return undefined;
              throw error;
            });
          if (!queue) continue;
          if (queue.policy === want.name) confirmed.push(name);
          else lagging.push(`\`${name}\` (${queue.policy ? `policy \`${queue.policy}\`` : 'no policy'})`);
        }
        return lagging.length === 0 ? true : undefined;
      }, VERIFY_WAIT_MS);
      if (!settled) {
        return {
          ok: false,
          detail: `policy \`${want.name}\` is in place, but after ${formatDuration(VERIFY_WAIT_MS)} these queues still do not report it: ${lagging.join(', ')}`,
        };
      }
      details.push(
        confirmed.length > 0
          ? `policy \`${want.name}\` is in place and ${code(confirmed)} report it as their policy`
          : `policy \`${want.name}\` is in place; the queues it was checked on are gone`,
      );
    }
    return { ok: true, detail: details.join('; ') };
  },

  async rollback(context, done) {
    const results: string[] = [];
    for (const action of done) {
      const want = data(action);
      const current = await freshPolicy(context.management, want.vhost, want.name);
      if (!current) {
        results.push(`policy \`${want.name}\`: already gone`);
      } else if (!sameDefinition(current, want)) {
        results.push(`policy \`${want.name}\`: changed since this run set it (${describePolicy(current)}); left alone`);
      } else {
        const { status } = await context.management.send('DELETE', policyPath(want.vhost, want.name));
        results.push(`policy \`${want.name}\`: ${status === 404 ? 'already gone' : 'deleted'}`);
      }
    }
    return results.join('; ');
  },
});
