/**
 * The shape of a `/rabbit` subcommand. Definitions in `commands/` are plain objects: a test calls `run` with a
 * fake context, and the router wires every definition to Slack and the console alike.
 */
import type { z } from 'zod';
import type { ChatReply } from '../chat/chat-message.js';
import type { ClusterDirectory } from '../cluster/cluster-directory.js';
import type { DefinitionsStore } from '../cluster/definitions-store.js';
import type { HealthControl } from '../health/health-monitor.js';
import type { RemediationControl } from '../remediation/remediation-control.js';
import type { TapControl } from '../tap/tap-service.js';
import type { Argv } from './argv.js';
import type { VhostScope } from './vhost-scope.js';

/** `read` commands only look; `operate` commands change something and need an operator. */
export type CommandAccess = 'read' | 'operate';

/**
 * How a command stands to a channel's vhost scope (access.vhostScopes): `scoped` keeps to `context.vhostScope`
 * (defaults to it, narrows listings to it); `none` shows nothing of any one vhost (nodes, totals, help). A command
 * that declares neither shows items of every vhost, so a scoped channel is refused it.
 */
export type CommandVhosts = 'scoped' | 'none';

export interface CommandContext {
  userId: string;
  channelId: string;
  /** The vhosts this channel is limited to (access.vhostScopes); undefined: every vhost. */
  vhostScope?: VhostScope;
  /** The slash command as configured, e.g. `/rabbit`, for usage lines. */
  slashCommand: string;
  clusters: ClusterDirectory;
  commands: readonly AnyCommandDefinition[];
  /** The notification tap, when it runs. */
  tap?: TapControl;
  /** The health checks, when they run. */
  health?: HealthControl;
  /** The workflow engine, when remediation is available. */
  remediation?: RemediationControl;
  /** The previous `definitions` summaries (Redis). */
  definitions?: DefinitionsStore;
}

export interface CommandDefinition<A> {
  name: string;
  /** Arguments after the name, e.g. `[cluster]`; shown as `/rabbit status [cluster]`. */
  usage: string;
  summary: string;
  access: CommandAccess;
  /** When some arguments change things (`tap pause`), the access level for those parsed arguments. */
  accessFor?: (args: A) => CommandAccess;
  booleanFlags?: readonly string[];
  vhosts?: CommandVhosts;
  /** Turns the tokenised arguments into typed ones; its error messages are shown to the user with the usage line. */
  args: z.ZodType<A, Argv>;
  run(context: CommandContext, args: A): Promise<ChatReply>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of different argument types.
export type AnyCommandDefinition = CommandDefinition<any>;

export function defineCommand<A>(definition: CommandDefinition<A>): CommandDefinition<A> {
  return definition;
}

export function usageLine(slashCommand: string, definition: AnyCommandDefinition): string {
  return `${slashCommand} ${definition.name}${definition.usage ? ` ${definition.usage}` : ''}`;
}
