/**
 * Who may do what, where: the `access` section of the config applied to one request. Channel rules apply to every
 * command; `read` commands need the user among the readers when readers are configured (operators and approvers
 * read too); `operate` commands need the user among the operators. Every refusal says why.
 * User-group ids (S…) are matched by membership that the front end resolves; this module only compares ids.
 * A channel may also be limited to some vhosts (access.vhostScopes): `vhostScope` finds its scope, which commands
 * keep to and the workflow engine enforces (vhost-scope.ts).
 */
import type { WarrenConfig } from '../config/schema.js';
import type { CommandAccess } from './command-definition.js';
import type { Requester } from './requester.js';
import { VhostScope } from './vhost-scope.js';

export type AccessDecision = { allowed: true } | { allowed: false; reason: string };

/** The `access` section; scopes are optional so that a policy without any is written as before. */
export type AccessConfig = Omit<WarrenConfig['access'], 'vhostScopes'> &
  Partial<Pick<WarrenConfig['access'], 'vhostScopes'>>;

export class AccessPolicy {
  private readonly scopes: Map<string, VhostScope>;

  constructor(private readonly access: AccessConfig) {
    this.scopes = new Map(
      (access.vhostScopes ?? []).flatMap((s) => s.channels.map((c) => [c, new VhostScope(s.vhosts)] as const)),
    );
  }

  /** The vhosts a channel is limited to; undefined: every vhost. */
  vhostScope(channelId: string): VhostScope | undefined {
    return this.scopes.get(channelId);
  }

  private matches(ids: readonly string[], requester: Requester): boolean {
    return ids.includes(requester.userId) || (requester.groups ?? []).some((g) => ids.includes(g));
  }

  /** Approvers (access.approvers) may approve runs; nobody may approve their own, which the engine enforces. */
  isApprover(requester: Requester): boolean {
    return this.matches(this.access.approvers, requester);
  }

  check(requester: Requester, level: CommandAccess): AccessDecision {
    const { channels, operators } = this.access;
    if (channels.length > 0 && !channels.includes(requester.channelId)) {
      return {
        allowed: false,
        reason: `warren takes commands only in ${channels.map((c) => `<#${c}>`).join(', ')}, not in this channel`,
      };
    }
    const { readers, approvers } = this.access;
    if (
      level === 'read' &&
      readers.length > 0 &&
      ![readers, operators, approvers].some((ids) => this.matches(ids, requester))
    ) {
      return {
        allowed: false,
        reason: `only readers (access.readers), operators and approvers may use warren; <@${requester.userId}> is none of them`,
      };
    }
    if (level === 'operate' && !this.matches(operators, requester)) {
      return {
        allowed: false,
        reason:
          operators.length === 0
            ? 'no operators are configured (access.operators), so nobody may start changes'
            : `only operators (access.operators) may run this; <@${requester.userId}> is not one`,
      };
    }
    return { allowed: true };
  }
}
