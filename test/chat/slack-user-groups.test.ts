import { describe, expect, it } from 'vitest';
import { slackUserGroups } from '../../src/chat/slack-user-groups.js';

function client(members: Record<string, string[]>, calls: string[]) {
  return {
    usergroups: {
      users: {
        list: async ({ usergroup }: { usergroup: string }) => {
          calls.push(usergroup);
          if (!(usergroup in members)) throw new Error('no_such_subteam');
          return { ok: true, users: members[usergroup] };
        },
      },
    },
  } as unknown as Parameters<typeof slackUserGroups>[0];
}

describe('slackUserGroups', () => {
  it('returns the configured groups a user is in, caching members until the TTL passes', async () => {
    const calls: string[] = [];
    let now = 0;
    const groups = slackUserGroups(client({ S1: ['U1', 'U2'], S2: ['U2'] }, calls), ['S1', 'S2'], 1000, () => now);
    expect(await groups.groupsOf('U2')).toEqual(['S1', 'S2']);
    expect(await groups.groupsOf('U1')).toEqual(['S1']);
    expect(calls).toEqual(['S1', 'S2']);
    now = 1500;
    expect(await groups.groupsOf('U3')).toEqual([]);
    expect(calls).toEqual(['S1', 'S2', 'S1', 'S2']);
  });

  it('treats a failed lookup as not a member, and asks again next time', async () => {
    const calls: string[] = [];
    const groups = slackUserGroups(client({}, calls), ['S9']);
    expect(await groups.groupsOf('U1')).toEqual([]);
    expect(await groups.groupsOf('U1')).toEqual([]);
    expect(calls).toEqual(['S9', 'S9']);
  });
});
