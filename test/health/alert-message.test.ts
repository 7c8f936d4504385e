import { describe, expect, it } from 'vitest';
import { renderMessage } from '../../src/chat/render-text.js';
import { ALERT_ACTIONS, renderAlert } from '../../src/health/alert-message.js';
import type { AlertState } from '../../src/health/alert-state.js';

const alert: AlertState = {
  id: 'zombie-queues@prod',
  cluster: 'prod',
  check: 'zombie-queues',
  status: 'firing',
  severity: 'warning',
  findings: Array.from({ length: 20 }, (_, i) => ({
    check: 'zombie-queues',
    severity: 'warning' as const,
    subject: `/q${i}`,
    summary: `\`compute_fanout_${i}\` holds 12 messages, no consumer`,
    details: [`topic compute, sibling has consumers`],
  })),
  findingCount: 23,
  firedAt: Date.UTC(2026, 10, 22, 3, 4),
  updatedAt: Date.UTC(2026, 10, 22, 3, 4),
  remindedAt: Date.UTC(2026, 10, 22, 3, 4),
  channel: 'C0ALERTS',
  replies: [],
};
const view = { title: 'Zombie fanout queues', hint: 'Delete them with `if-unused=true`.' };

const actionIds = (message: ReturnType<typeof renderAlert>) =>
  JSON.stringify(message.blocks)
    .match(/warren:alert:[a-z]+/g)
    ?.sort();

describe('alert message', () => {
  it('names severity, check, cluster and count, lists culprits with details for the first few, and the hint', () => {
    const message = renderAlert(alert, view);
    expect(message.text).toBe(
      'WARNING: Zombie fanout queues on prod (23 findings): compute_fanout_0 holds 12 messages, no consumer',
    );
    const text = renderMessage(message, 1).text;
    expect(text).toContain('WARNING: Zombie fanout queues on `prod` (23 findings)');
    expect(text).toContain('`compute_fanout_14`');
    expect(text).not.toContain('`compute_fanout_15`');
    expect(text).toContain('…and 8 more');
    expect(text.match(/◦ topic compute/g)).toHaveLength(5);
    expect(text).toContain('What to do: Delete them');
    expect(text).toContain('alert `zombie-queues@prod` · since 2026-11-22 03:04Z');
  });

  it('offers Silence and Ack, and Fix… only when a workflow is available', () => {
    expect(actionIds(renderAlert(alert, view))).toEqual([ALERT_ACTIONS.ack, ALERT_ACTIONS.silence]);
    const withFix = renderAlert(alert, { ...view, workflow: 'delete-zombie-queues' });
    expect(actionIds(withFix)).toEqual([ALERT_ACTIONS.ack, ALERT_ACTIONS.fix, ALERT_ACTIONS.silence]);
    expect(JSON.stringify(withFix.blocks)).toContain('"value":"zombie-queues@prod"');
  });

  it('shows an ack and a silence instead of their buttons', () => {
    const message = renderAlert(alert, {
      ...view,
      ack: { user: 'U0BOB', at: 0 },
      silence: {
        id: 's-abc123',
        target: 'zombie-queues',
        author: 'U0OPER',
        reason: 'upgrade',
        createdAt: 0,
        expiresAt: Date.UTC(2026, 10, 22, 5, 0),
      },
    });
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('acked by <@U0BOB>');
    expect(json).toContain('silenced by <@U0OPER> until 2026-11-22 05:00Z (upgrade)');
    expect(actionIds(message)).toBeUndefined();
  });

  it('marks a resolved alert resolved, keeps what it was, and drops the buttons', () => {
    const message = renderAlert(
      { ...alert, status: 'resolved', resolvedAt: Date.UTC(2026, 10, 22, 4, 0) },
      { ...view, ack: { user: 'U0BOB', at: 0 } },
    );
    expect(message.text).toBe('RESOLVED: Zombie fanout queues on prod (23 findings)');
    const json = JSON.stringify(message.blocks);
    expect(json).toContain(':white_check_mark:');
    expect(json).toContain('resolved 2026-11-22 04:00Z');
    expect(json).not.toContain('What to do');
    expect(json).not.toContain('acked by');
    expect(actionIds(message)).toBeUndefined();
  });
});
