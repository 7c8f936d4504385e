/**
 * The one registry that wires `commands/` to the front ends: it tokenises the text of a slash command, finds the
 * definition, checks access, validates arguments and runs the handler. It never throws at a front end: every
 * failure becomes an ephemeral reply that says what went wrong and, for bad arguments, the usage line.
 */
import { type ChatReply, ephemeral, type Invocation } from '../chat/chat-message.js';
import type { ClusterDirectory } from '../cluster/cluster-directory.js';
import type { DefinitionsStore } from '../cluster/definitions-store.js';
import { ErrorCode, isCodedError } from '../errors.js';
import type { HealthControl } from '../health/health-monitor.js';
import type { Logger } from '../logger.js';
import type { WarrenMetrics } from '../metrics.js';
import type { RemediationControl } from '../remediation/remediation-control.js';
import { scrub } from '../secrets.js';
import type { TapControl } from '../tap/tap-service.js';
import type { AccessPolicy } from './access-policy.js';
import { parseArgv, tokenize } from './argv.js';
import { type AnyCommandDefinition, type CommandContext, usageLine } from './command-definition.js';
import type { VhostScope } from './vhost-scope.js';

export interface CommandRouterDeps {
  commands: readonly AnyCommandDefinition[];
  clusters: ClusterDirectory;
  access: AccessPolicy;
  slashCommand: string;
  logger: Logger;
  metrics?: WarrenMetrics;
  tap?: () => TapControl | undefined;
  health?: () => HealthControl | undefined;
  remediation?: () => RemediationControl | undefined;
  definitions?: DefinitionsStore;
}

export class CommandRouter {
  private readonly byName: Map<string, AnyCommandDefinition>;

  constructor(private readonly deps: CommandRouterDeps) {
    this.byName = new Map(deps.commands.map((c) => [c.name, c]));
  }

  /** Runs one invocation to completion and responds exactly once. */
  async handle(invocation: Invocation): Promise<void> {
    const reply = await this.reply(invocation);
    await invocation.respond(reply);
  }

  async reply(invocation: Invocation): Promise<ChatReply> {
    const { slashCommand, logger } = this.deps;
    const tokens = tokenize(invocation.text);
    const name = tokens[0]?.toLowerCase() ?? 'help';
    const definition = this.byName.get(name);
    if (!definition) {
      this.count(name, 'unknown');
      return ephemeral(`Unknown command \`${name}\`. Try \`${slashCommand} help\` for the list of commands.`);
    }
    const decision = this.deps.access.check(invocation, definition.access);
    if (!decision.allowed) {
      this.count(name, 'denied');
      logger.info({ command: name, user: invocation.userId, channel: invocation.channelId }, 'command refused');
      return ephemeral(`Not allowed: ${decision.reason}.`);
    }
    const argv = parseArgv(tokens.slice(1), definition.booleanFlags);
    const vhostScope = this.deps.access.vhostScope(invocation.channelId);
    const outOfScope = vhostScope && this.outOfScope(definition, argv.flags.vhost, vhostScope);
    if (outOfScope) {
      this.count(name, 'denied');
      logger.info({ command: name, user: invocation.userId, channel: invocation.channelId }, 'command out of scope');
      return ephemeral(`Not allowed: ${outOfScope}.`);
    }
    const parsed = definition.args.safeParse(argv);
    if (!parsed.success) {
      this.count(name, 'usage');
      const message = parsed.error.issues.map((i) => i.message).join('; ');
      return ephemeral(`${message}\nUsage: \`${usageLine(slashCommand, definition)}\``);
    }
    if (definition.accessFor) {
      const argsDecision = this.deps.access.check(invocation, definition.accessFor(parsed.data));
      if (!argsDecision.allowed) {
        this.count(name, 'denied');
        return ephemeral(`Not allowed: ${argsDecision.reason}.`);
      }
    }
    const context: CommandContext = {
      userId: invocation.userId,
      channelId: invocation.channelId,
      ...(vhostScope ? { vhostScope } : {}),
      slashCommand,
      clusters: this.deps.clusters,
      commands: this.deps.commands,
      tap: this.deps.tap?.(),
      health: this.deps.health?.(),
      remediation: this.deps.remediation?.(),
      ...(this.deps.definitions ? { definitions: this.deps.definitions } : {}),
    };
    try {
      const reply = await definition.run(context, parsed.data);
      this.count(name, 'ok');
      return reply;
    } catch (error) {
      const coded = isCodedError(error);
      const message = scrub(error instanceof Error ? error.message : String(error));
      // A refusal (nothing qualifies, bad workflow arguments) is an answer, not a failure of warren.
      if (coded && error.code === ErrorCode.VhostOutOfScopeError) {
        this.count(name, 'denied');
        return ephemeral(`Not allowed: ${message}.`);
      }
      if (coded && (error.code === ErrorCode.WorkflowRefusedError || error.code === ErrorCode.RunRefusedError)) {
        this.count(name, 'refused');
        return ephemeral(message);
      }
      this.count(name, 'error');
      logger.warn({ err: error, command: name }, 'command failed');
      if (coded && error.code === ErrorCode.UnknownClusterError) {
        return ephemeral(`${message}\nUsage: \`${usageLine(slashCommand, definition)}\``);
      }
      return ephemeral(`\`${name}\` failed: ${message}`);
    }
  }

  /**
   * Why a command may not run in a channel limited to some vhosts: it shows every vhost's items, or `--vhost` names
   * one outside the scope (checked here for every command, so no command can forget it). Undefined: it may run, and
   * keeps to the scope itself.
   */
  private outOfScope(definition: AnyCommandDefinition, typed: string | true | undefined, scope: VhostScope) {
    if (definition.vhosts === undefined) {
      return `\`${definition.name}\` shows every vhost, and this channel sees only vhost ${scope.describe()} (access.vhostScopes)`;
    }
    if (typeof typed === 'string' && !scope.allows(typed)) {
      return `this channel sees only vhost ${scope.describe()} (access.vhostScopes), not \`${typed}\``;
    }
    return undefined;
  }

  private count(command: string, outcome: string): void {
    this.deps.metrics?.commands.inc({ command: this.byName.has(command) ? command : '(unknown)', outcome });
  }
}
