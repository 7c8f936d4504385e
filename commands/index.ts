/** Every `/rabbit` subcommand, in the order `help` lists them. Adding a command means adding it here. */
import type { AnyCommandDefinition } from '../src/chatops/command-definition.js';
import { alertsCommand } from './alerts.js';
import { auditCommand } from './audit.js';
import { bindingsCommand } from './bindings.js';
import { connectionsCommand } from './connections.js';
import { consumersCommand } from './consumers.js';
import { definitionsCommand } from './definitions.js';
import { exchangesCommand } from './exchanges.js';
import { fixCommand } from './fix.js';
import { healthCommand } from './health.js';
import { helpCommand } from './help.js';
import { partitionsCommand } from './partitions.js';
import { peekCommand } from './peek.js';
import { policiesCommand } from './policies.js';
import { queuesCommand } from './queues.js';
import { silenceCommand } from './silence.js';
import { silencesCommand } from './silences.js';
import { statusCommand } from './status.js';
import { tapCommand } from './tap.js';
import { unsilenceCommand } from './unsilence.js';
import { workflowsCommand } from './workflows.js';

export const allCommands: readonly AnyCommandDefinition[] = [
  helpCommand,
  statusCommand,
  queuesCommand,
  connectionsCommand,
  consumersCommand,
  exchangesCommand,
  bindingsCommand,
  partitionsCommand,
  policiesCommand,
  peekCommand,
  definitionsCommand,
  healthCommand,
  alertsCommand,
  silenceCommand,
  silencesCommand,
  unsilenceCommand,
  workflowsCommand,
  fixCommand,
  auditCommand,
  tapCommand,
];
