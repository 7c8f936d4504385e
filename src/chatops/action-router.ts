/**
 * The one place that handles button clicks from every front end, as the command router does for slash commands:
 * it finds the handler by action id, checks access for the clicking user and channel, and answers the clicker
 * ephemerally with the outcome or the reason for a refusal. A button's value is untrusted: handlers look up what it
 * names in server-side state and never act on anything else it carries.
 */
import { type ActionInvocation, type ChatReply, ephemeral } from '../chat/chat-message.js';
import { isCodedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { WarrenMetrics } from '../metrics.js';
import { scrub } from '../secrets.js';
import type { AccessPolicy } from './access-policy.js';
import type { CommandAccess } from './command-definition.js';

export interface ActionHandler {
  actionId: string;
  access: CommandAccess;
  handle(action: ActionInvocation): Promise<ChatReply>;
}

export interface ActionRouterDeps {
  access: AccessPolicy;
  logger: Logger;
  metrics?: WarrenMetrics;
}

export class ActionRouter {
  private readonly handlers = new Map<string, ActionHandler>();

  constructor(private readonly deps: ActionRouterDeps) {}

  register(...handlers: ActionHandler[]): void {
    for (const handler of handlers) this.handlers.set(handler.actionId, handler);
  }

  async handle(action: ActionInvocation): Promise<void> {
    await action.respond(await this.reply(action));
  }

  async reply(action: ActionInvocation): Promise<ChatReply> {
    const handler = this.handlers.get(action.actionId);
    if (!handler) {
      this.count(action.actionId, 'unknown');
      return ephemeral('That button is not handled by this warren (it may be from an older version).');
    }
    const decision = this.deps.access.check(action, handler.access);
    if (!decision.allowed) {
      this.count(handler.actionId, 'denied');
      this.deps.logger.info({ action: handler.actionId, user: action.userId }, 'button refused');
      return ephemeral(`Not allowed: ${decision.reason}.`);
    }
    try {
      const reply = await handler.handle(action);
      this.count(handler.actionId, 'ok');
      return reply;
    } catch (error) {
      this.count(handler.actionId, isCodedError(error) ? 'refused' : 'error');
      this.deps.logger.warn({ err: error, action: handler.actionId }, 'button failed');
      return ephemeral(scrub(error instanceof Error ? error.message : String(error)));
    }
  }

  private count(action: string, outcome: string): void {
    this.deps.metrics?.actions.inc({ action: this.handlers.has(action) ? action : '(unknown)', outcome });
  }
}
