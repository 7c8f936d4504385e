/**
 * The access model of docs/security.md as a matrix: every role (reader, operator, approver, stranger) × every kind of
 * command and button × an allowed and a foreign channel, through the real routers with the real command and button
 * definitions. A cell is refused exactly when the model says so, with the reason the model gives; an allowed cell
 * may still fail further on (no cluster answers here), but never as an access refusal.
 * The vhost scope (access.vhostScopes) is a second matrix: commands and workflows × an unscoped and a scoped channel,
 * through the same routers and the real workflow engine, and approving a run whose vhost left the channel's scope.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { alertActions } from '../../actions/alert-actions.js';
import { runActions } from '../../actions/run-actions.js';
import { allCommands } from '../../commands/index.js';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { ActionRouter } from '../../src/chatops/action-router.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { healthSchema } from '../../src/config/health-schema.js';
import { remediationSchema } from '../../src/config/remediation-schema.js';
import { ALERT_ACTIONS } from '../../src/health/alert-message.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { RUN_ACTIONS } from '../../src/remediation/run-message.js';
import { WorkflowEngine } from '../../src/remediation/workflow-engine.js';
import type { RunRequest } from '../../src/remediation/workflow-run.js';
import { allWorkflows } from '../../workflows/index.js';

const ROLES = { reader: 'U0READER', operator: 'U0OPERATOR', approver: 'U0APPROVER', stranger: 'U0STRANGER' };
type Role = keyof typeof ROLES;
const ALLOWED_CHANNEL = 'C0OPS';
const CHANNELS = [ALLOWED_CHANNEL, 'C0ELSEWHERE'];

const access = new AccessPolicy({
  readers: [ROLES.reader],
  operators: [ROLES.operator],
  approvers: [ROLES.approver],
  channels: [ALLOWED_CHANNEL],
});
const logger = createLogger('silent');
const clusters = new ClusterDirectory(
  [
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'matrix-secret',
      vhost: '/',
    },
  ],
  { managementTimeoutMs: 1_000 },
);
const commands = new CommandRouter({
  commands: allCommands,
  clusters,
  access,
  slashCommand: '/rabbit',
  logger,
  metrics: createMetrics(),
});
const buttons = new ActionRouter({ access, logger, metrics: createMetrics() });
buttons.register(...alertActions(() => undefined), ...runActions(() => undefined));

/** What the documented model allows: the channel first, then read (readers, operators, approvers) or operate. */
function expected(level: 'read' | 'operate', role: Role, channel: string): RegExp | undefined {
  if (channel !== ALLOWED_CHANNEL) return /warren takes commands only in <#C0OPS>, not in this channel/;
  if (level === 'read')
    return role === 'stranger' ? /only readers \(access\.readers\), operators and approvers/ : undefined;
  if (role === 'operator') return undefined;
  // A stranger may not even read: commands whose arguments make them changes (fix, tap pause) say that first.
  return role === 'stranger'
    ? /only readers \(access\.readers\)|only operators \(access\.operators\)/
    : /only operators \(access\.operators\) may run this/;
}

const COMMANDS: Array<[string, 'read' | 'operate']> = [
  ['status', 'read'],
  ['queues --limit 5', 'read'],
  ['exchanges --vhost /', 'read'],
  ['bindings reply_4f2a', 'read'],
  ['definitions', 'read'],
  // Messages may carry what a reader should not see, even scrubbed, and a peek marks them redelivered.
  ['peek notifications.error 3', 'operate'],
  ['alerts', 'read'],
  ['audit 5', 'read'],
  ['tap', 'read'],
  ['fix delete-zombie-queues --dry-run', 'read'],
  ['fix delete-zombie-queues', 'operate'],
  ['tap pause', 'operate'],
  ['silence backlog 1h reindexing', 'operate'],
  ['unsilence s-0123abcd', 'operate'],
];
const BUTTONS: Array<[string, string, 'read' | 'operate']> = [
  [ALERT_ACTIONS.ack, 'backlog@prod', 'read'],
  [ALERT_ACTIONS.silence, 'backlog@prod', 'operate'],
  [ALERT_ACTIONS.fix, 'zombie-queues@prod', 'operate'],
  // Who may approve is the engine's call (approvers only, never the requester): the router lets readers through.
  [RUN_ACTIONS.approve, 'r-0123abcd', 'read'],
  [RUN_ACTIONS.reject, 'r-0123abcd', 'read'],
];

const cells = <T>(items: T[]) =>
  items.flatMap((item) =>
    (Object.keys(ROLES) as Role[]).flatMap((role) => CHANNELS.map((channel) => ({ item, role, channel }))),
  );

describe('access matrix', () => {
  it.each(cells(COMMANDS))(
    '/rabbit $item.0 by the $role in $channel',
    async ({ item: [text, level], role, channel }) => {
      const reply = await commands.reply({
        userId: ROLES[role],
        channelId: channel,
        text,
        respond: async () => undefined,
      });
      const refusal = expected(level, role, channel);
      if (refusal) {
        expect(reply).toMatchObject({ visibility: 'ephemeral', text: expect.stringMatching(/^Not allowed: /) });
        expect(reply.text).toMatch(refusal);
      } else {
        expect(reply.text).not.toMatch(/^Not allowed/);
      }
    },
  );

  it.each(cells(BUTTONS))(
    'button $item.0 by the $role in $channel',
    async ({ item: [actionId, value, level], role, channel }) => {
      const reply = await buttons.reply({
        actionId,
        value,
        userId: ROLES[role],
        channelId: channel,
        respond: async () => undefined,
      });
      const refusal = expected(level, role, channel);
      if (refusal) {
        expect(reply.text).toMatch(/^Not allowed: /);
        expect(reply.text).toMatch(refusal);
      } else {
        expect(reply.text).not.toMatch(/^Not allowed/);
      }
    },
  );
});

const SCOPED_CHANNEL = 'C0NEUTRON';
const scopedAccess = new AccessPolicy({
  readers: [],
  operators: [ROLES.operator],
  approvers: [ROLES.approver],
  channels: [ALLOWED_CHANNEL, SCOPED_CHANNEL],
  vhostScopes: [{ channels: [SCOPED_CHANNEL], vhosts: ['/neutron'] }],
});

/**
 * Just enough Redis for the engine to read one stored run and append to the audit: a scope refusal comes before
 * anything else is written, and an approval that passes the scope fails further on, at the atomic approve.
 */
function storedRuns(runs: Record<string, RunRequest>): Redis {
  const fake = {
    hgetall: async (key: string) => {
      const run = Object.values(runs).find((r) => key === `warren:remediation:run:${r.id}`);
      return run ? { request: JSON.stringify(run), status: 'pending' } : {};
    },
    xadd: async () => '1-0',
    // The run store's scripts are defined at construction and never reached here.
    defineCommand: () => undefined,
  };
  return fake as unknown as Redis;
}

const run = (id: string, args: Record<string, unknown>): RunRequest => ({
  id,
  workflow: 'purge-queue',
  cluster: 'prod',
  args: { force: false, ...args },
  risk: 'high',
  requester: ROLES.operator,
  channel: SCOPED_CHANNEL,
  createdAt: Date.now(),
  expiresAt: Date.now() + 60_000,
  approvalsNeeded: 1,
  plan: { summary: 'purge', warnings: [], actions: [], guards: [] },
});
const redis = storedRuns({
  a: run('r-000000aa', { queue: 'q-neutron', vhost: '/neutron' }),
  // Requested when the channel still saw /nova: the scope holds on approval too.
  b: run('r-000000bb', { queue: 'q-nova', vhost: '/nova' }),
});
const engine = new WorkflowEngine({
  clusters,
  remediation: remediationSchema.parse({}),
  health: healthSchema.parse({}),
  redis,
  chat: {} as ChatPort,
  pacer: new ChannelPacer(redis, 0),
  access: scopedAccess,
  logger,
  workflows: allWorkflows,
});
const scopedCommands = new CommandRouter({
  commands: allCommands,
  clusters,
  access: scopedAccess,
  slashCommand: '/rabbit',
  logger,
  remediation: () => engine,
});
const scopedButtons = new ActionRouter({ access: scopedAccess, logger });
scopedButtons.register(...runActions(() => engine));

const SEES = 'this channel sees only vhost `/neutron` \\(access.vhostScopes\\)';
const outside = (vhost: string) => new RegExp(`^Not allowed: ${SEES}, not \`${vhost}\``);
const everyVhost = (name: string) => new RegExp(`^Not allowed: \`${name}\` shows every vhost, and ${SEES}`);
const actsAcross = (workflow: string) =>
  new RegExp(`^Not allowed: ${SEES}, and ${workflow} acts across vhosts or on nodes`);
const actsIn = (workflow: string, vhost: string) =>
  new RegExp(`^Not allowed: ${SEES}, and this ${workflow} would act in \`${vhost}\``);

/** Each command as the operator types it, and its refusal in the scoped channel (undefined: it runs there). */
const SCOPED_COMMANDS: Array<[string, RegExp | undefined]> = [
  ['status', undefined],
  ['partitions', undefined],
  ['queues', undefined],
  ['queues --vhost /neutron', undefined],
  ['queues --vhost /nova', outside('/nova')],
  ['connections --vhost /nova', outside('/nova')],
  ['policies --vhost /nova', outside('/nova')],
  ['exchanges --vhost /', outside('/')],
  ['bindings reply_4f2a', undefined],
  ['bindings reply_4f2a --vhost /nova', outside('/nova')],
  ['consumers conductor --vhost /nova', outside('/nova')],
  ['peek notifications.error 3', undefined],
  ['peek notifications.error 3 --vhost /nova', outside('/nova')],
  ['alerts', everyVhost('alerts')],
  // Runs in a scoped channel, showing only the runs within its vhosts (test/commands/audit.test.ts).
  ['audit 5', undefined],
  ['audit 5 --vhost /nova', outside('/nova')],
  ['definitions', everyVhost('definitions')],
  ['tap pause', everyVhost('tap')],
  ['silence backlog 1h reindexing', everyVhost('silence')],
  ['fix purge-queue q-neutron --vhost /neutron --dry-run', undefined],
  ['fix purge-queue q-neutron --vhost /neutron', undefined],
  ['fix apply-policy expiry --pattern ^reply_ --value 1h --vhost /neutron', undefined],
  ['fix purge-queue q-nova --vhost /nova', outside('/nova')],
  // Without --vhost a workflow acts in the cluster's own vhost, here `/`.
  ['fix purge-queue q-neutron', actsIn('purge-queue', '/')],
  ['fix apply-policy expiry --pattern ^reply_ --value 1h --dry-run', actsIn('apply-policy', '/')],
  ['fix delete-zombie-queues --dry-run', actsAcross('delete-zombie-queues')],
  ['fix heal-partition', actsAcross('heal-partition')],
  ['fix raise-memory-watermark rabbit@a --to 0.5', actsAcross('raise-memory-watermark')],
  ['fix rebalance-quorum-leaders', actsAcross('rebalance-quorum-leaders')],
];

describe('access matrix: vhost scope', () => {
  it.each(
    SCOPED_COMMANDS.flatMap(([text, refusal]) =>
      [SCOPED_CHANNEL, ALLOWED_CHANNEL].map((channel) => ({ text, refusal, channel })),
    ),
  )('/rabbit $text by an operator in $channel', async ({ text, refusal, channel }) => {
    const reply = await scopedCommands.reply({
      userId: ROLES.operator,
      channelId: channel,
      text,
      respond: async () => undefined,
    });
    if (refusal && channel === SCOPED_CHANNEL) {
      expect(reply.visibility).toBe('ephemeral');
      expect(reply.text).toMatch(refusal);
    } else {
      expect(reply.text).not.toMatch(/^Not allowed/);
    }
  });

  it.each([
    ['r-000000aa', undefined],
    ['r-000000bb', actsIn('purge-queue', '/nova')],
  ])('approving run %s in the scoped channel', async (runId, refusal) => {
    const reply = await scopedButtons.reply({
      actionId: RUN_ACTIONS.approve,
      value: runId,
      userId: ROLES.approver,
      channelId: SCOPED_CHANNEL,
      respond: async () => undefined,
    });
    if (refusal) expect(reply.text).toMatch(refusal);
    else expect(reply.text).not.toMatch(/^Not allowed/);
  });
});
