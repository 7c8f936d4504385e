/**
 * The access model of docs/security.md as a matrix: every role (reader, operator, approver, stranger) × every kind of
 * command and button × an allowed and a foreign channel, through the real routers with the real command and button
 * definitions. A cell is refused exactly when the model says so, with the reason the model gives; an allowed cell
 * may still fail further on (no cluster answers here), but never as an access refusal.
 */
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../commands/index.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { ActionRouter } from '../../src/chatops/action-router.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { alertActions } from '../../src/health/alert-actions.js';
import { ALERT_ACTIONS } from '../../src/health/alert-message.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { runActions } from '../../src/remediation/run-actions.js';
import { RUN_ACTIONS } from '../../src/remediation/run-message.js';

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
