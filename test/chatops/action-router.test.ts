import { describe, expect, it } from 'vitest';
import type { ActionInvocation } from '../../src/chat/chat-message.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { ActionRouter } from '../../src/chatops/action-router.js';
import { UnknownAlertError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';
import { registerSecret } from '../../src/secrets.js';

function setup(channels: string[] = []) {
  const metrics = createMetrics();
  const router = new ActionRouter({
    access: new AccessPolicy({ readers: [], operators: ['U0OPER'], approvers: [], channels }),
    logger: createLogger('silent'),
    metrics,
  });
  const seen: string[] = [];
  router.register(
    {
      actionId: 'warren:test:look',
      access: 'read',
      handle: async (a) => {
        seen.push(`look ${a.value}`);
        return { visibility: 'ephemeral', text: 'looked' };
      },
    },
    {
      actionId: 'warren:test:change',
      access: 'operate',
      handle: async (a) => {
        if (a.value === 'bad') throw new UnknownAlertError('no such thing `bad`');
        if (a.value === 'boom') throw new Error(`failed with password router-secret-xyz`);
        seen.push(`change ${a.value}`);
        return { visibility: 'ephemeral', text: 'changed' };
      },
    },
  );
  const click = (actionId: string, value: string, userId = 'U0BOB', channelId = 'C1') => {
    const action: ActionInvocation = { actionId, value, userId, channelId, respond: async () => undefined };
    return router.reply(action);
  };
  return { router, seen, click, metrics };
}

describe('ActionRouter', () => {
  it('runs a read action for anyone and an operate action only for operators, saying why not', async () => {
    const { click, seen } = setup();
    expect((await click('warren:test:look', 'x')).text).toBe('looked');
    expect((await click('warren:test:change', 'x')).text).toBe(
      'Not allowed: only operators (access.operators) may run this; <@U0BOB> is not one.',
    );
    expect((await click('warren:test:change', 'y', 'U0OPER')).text).toBe('changed');
    expect(seen).toEqual(['look x', 'change y']);
  });

  it('applies channel rules to clicks as to commands', async () => {
    const { click, seen } = setup(['C0OPS']);
    expect((await click('warren:test:look', 'x', 'U0OPER', 'C0ELSE')).text).toContain('not in this channel');
    expect(seen).toEqual([]);
  });

  it('answers unknown buttons and failing handlers ephemerally, without secrets', async () => {
    const { click, metrics } = setup();
    expect(await click('warren:nope', 'x')).toEqual({
      visibility: 'ephemeral',
      text: 'That button is not handled by this warren (it may be from an older version).',
    });
    expect((await click('warren:test:change', 'bad', 'U0OPER')).text).toBe('no such thing `bad`');
    registerSecret('router-secret-xyz');
    const failed = await click('warren:test:change', 'boom', 'U0OPER');
    expect(failed).toEqual({ visibility: 'ephemeral', text: 'failed with password ***' });
    const text = await metrics.registry.getSingleMetricAsString('warren_actions_total');
    expect(text).toContain('action="warren:test:change",outcome="refused"} 1');
    expect(text).toContain('action="(unknown)",outcome="unknown"} 1');
  });
});
