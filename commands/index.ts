/** Every `/rabbit` subcommand, in the order `help` lists them. Adding a command means adding it here. */
import type { AnyCommandDefinition } from '../src/chatops/command-definition.js';
import { alertsCommand } from './alerts.js';
import { healthCommand } from './health.js';
import { helpCommand } from './help.js';
import { silenceCommand } from './silence.js';
import { silencesCommand } from './silences.js';
import { statusCommand } from './status.js';
import { tapCommand } from './tap.js';
import { unsilenceCommand } from './unsilence.js';

export const allCommands: readonly AnyCommandDefinition[] = [
  helpCommand,
  statusCommand,
  healthCommand,
  alertsCommand,
  silenceCommand,
  silencesCommand,
  unsilenceCommand,
  tapCommand,
];
