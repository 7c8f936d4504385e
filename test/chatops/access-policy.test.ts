import { describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../src/chatops/access-policy.js';

describe('AccessPolicy', () => {
  const policy = new AccessPolicy({
    readers: [],
    operators: ['U1OP', 'S1OPS'],
    approvers: ['U2AP'],
    channels: ['C1OPS'],
  });

  it('refuses every command outside the configured channels, saying where commands are taken', () => {
    const decision = policy.check({ userId: 'U1OP', channelId: 'C9RANDOM' }, 'read');
    expect(decision).toEqual({ allowed: false, reason: 'warren takes commands only in <#C1OPS>, not in this channel' });
  });

  it('lets anyone read in an allowed channel but only operators operate', () => {
    expect(policy.check({ userId: 'U3ANY', channelId: 'C1OPS' }, 'read')).toEqual({ allowed: true });
    expect(policy.check({ userId: 'U3ANY', channelId: 'C1OPS' }, 'operate')).toEqual({
      allowed: false,
      reason: 'only operators (access.operators) may run this; <@U3ANY> is not one',
    });
    expect(policy.check({ userId: 'U1OP', channelId: 'C1OPS' }, 'operate')).toEqual({ allowed: true });
  });

  it('accepts operators through user-group membership', () => {
    expect(policy.check({ userId: 'U4X', channelId: 'C1OPS', groups: ['S1OPS'] }, 'operate')).toEqual({
      allowed: true,
    });
  });

  it('allows all channels when none are configured, and says when no operators exist', () => {
    const open = new AccessPolicy({ readers: [], operators: [], approvers: [], channels: [] });
    expect(open.check({ userId: 'U1', channelId: 'CANY' }, 'read')).toEqual({ allowed: true });
    expect(open.check({ userId: 'U1', channelId: 'CANY' }, 'operate')).toMatchObject({
      allowed: false,
      reason: 'no operators are configured (access.operators), so nobody may start changes',
    });
  });

  it('limits reading to readers, operators and approvers once readers are configured', () => {
    const closed = new AccessPolicy({ readers: ['S9NOC'], operators: ['U1OP'], approvers: ['U2AP'], channels: [] });
    expect(closed.check({ userId: 'U3ANY', channelId: 'C1' }, 'read')).toEqual({
      allowed: false,
      reason: 'only readers (access.readers), operators and approvers may use warren; <@U3ANY> is none of them',
    });
    expect(closed.check({ userId: 'U4', channelId: 'C1', groups: ['S9NOC'] }, 'read')).toEqual({ allowed: true });
    expect(closed.check({ userId: 'U1OP', channelId: 'C1' }, 'read')).toEqual({ allowed: true });
    expect(closed.check({ userId: 'U2AP', channelId: 'C1' }, 'read')).toEqual({ allowed: true });
    expect(closed.check({ userId: 'U4', channelId: 'C1', groups: ['S9NOC'] }, 'operate')).toMatchObject({
      allowed: false,
    });
  });
});
