/**
 * Resolves the Slack user groups (S… ids) named in `access` to their members, so an operator or approver can be
 * "everyone in @rabbit-oncall". Members are cached for a few minutes per group; a failed lookup counts as "not a
 * member" (access is refused, never widened) and is retried on the next request.
 */
import type { webApi } from '@slack/bolt';

export interface UserGroupResolver {
  /** The configured group ids that `userId` belongs to. */
  groupsOf(userId: string): Promise<string[]>;
}

export function slackUserGroups(
  client: Pick<webApi.WebClient, 'usergroups'>,
  groupIds: readonly string[],
  ttlMs = 5 * 60_000,
  now: () => number = Date.now,
): UserGroupResolver {
  const cache = new Map<string, { members: Set<string>; at: number }>();
  const members = async (group: string): Promise<Set<string>> => {
    const hit = cache.get(group);
    if (hit && now() - hit.at < ttlMs) return hit.members;
    try {
      const result = await client.usergroups.users.list({ usergroup: group });
      const set = new Set(result.users ?? []);
      cache.set(group, { members: set, at: now() });
      return set;
    } catch {
      return new Set();
    }
  };
  return {
    async groupsOf(userId: string): Promise<string[]> {
      const results = await Promise.all(groupIds.map(async (g) => ((await members(g)).has(userId) ? g : undefined)));
      return results.filter((g): g is string => g !== undefined);
    },
  };
}
