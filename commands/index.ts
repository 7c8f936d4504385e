/** Every `/rabbit` subcommand, in the order `help` lists them. Adding a command means adding it here. */
import type { AnyCommandDefinition } from '../src/chatops/command-definition.js';
import { helpCommand } from './help.js';
import { statusCommand } from './status.js';
import { tapCommand } from './tap.js';

export const allCommands: readonly AnyCommandDefinition[] = [helpCommand, statusCommand, tapCommand];
