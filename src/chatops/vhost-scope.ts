/**
 * A channel's vhost scope (access.vhostScopes): the vhosts, or globs of them, that commands and workflows started in
 * that channel may read and act on. The access policy finds a channel's scope; commands get it as
 * `context.vhostScope` and keep to it with the functions here, and the workflow engine refuses runs outside it. It
 * must not fetch anything: it only says which vhosts are in and words the refusals.
 */
import { VhostOutOfScopeError } from '../errors.js';
import { globMatch } from '../tap/glob.js';

const GLOB = /[*?]/;

export class VhostScope {
  constructor(readonly patterns: readonly string[]) {}

  allows(vhost: string): boolean {
    return this.patterns.some((pattern) => globMatch(pattern, vhost));
  }

  /** The one vhost the scope names, when it names exactly one and no glob: a listing then asks only that vhost. */
  get only(): string | undefined {
    const [first, ...rest] = this.patterns;
    return first !== undefined && rest.length === 0 && !GLOB.test(first) ? first : undefined;
  }

  /** "`/neutron`" or "`/neutron`, `/nova*`", for refusals and headings. */
  describe(): string {
    return this.patterns.map((p) => `\`${p}\``).join(', ');
  }

  /** The items of in-scope vhosts only; an item whose vhost is not known is left out too. */
  keep<T extends { vhost?: string | undefined }>(items: readonly T[]): T[] {
    return items.filter((item) => item.vhost !== undefined && this.allows(item.vhost));
  }

  /** Throws, with the reason, when `vhost` is outside the scope. */
  require(vhost: string, what = 'vhost'): void {
    if (!this.allows(vhost)) {
      throw new VhostOutOfScopeError(
        `this channel sees only vhost ${this.describe()} (access.vhostScopes), and ${what} \`${vhost}\` is not one`,
      );
    }
  }
}

/**
 * The vhost a listing asks for: the one typed (checked by the router against the scope), else the scope's only one,
 * else every vhost, whose answer the caller narrows with `inScope`.
 */
export function listingVhost(scope: VhostScope | undefined, typed: string | undefined): string | undefined {
  return typed ?? scope?.only;
}

/** A listing's items narrowed to the scope; all of them in an unscoped channel. */
export function inScope<T extends { vhost?: string | undefined }>(
  scope: VhostScope | undefined,
  items: readonly T[],
): T[] {
  return scope ? scope.keep(items) : [...items];
}

/**
 * The vhost a command about one object (a queue, an exchange) uses: the one typed, else the scope's only one, else
 * the cluster's own (clusters[].vhost), which must be in scope; when it is not, the user is told to name one.
 */
export function objectVhost(scope: VhostScope | undefined, typed: string | undefined, clusterVhost: string): string {
  const vhost = typed ?? scope?.only ?? clusterVhost;
  if (scope && !scope.allows(vhost)) {
    throw new VhostOutOfScopeError(
      `this channel sees only vhost ${scope.describe()} (access.vhostScopes): name one with \`--vhost\``,
    );
  }
  return vhost;
}
