import { describe, expect, it } from 'vitest';
import {
  type AlertState,
  MAX_STORED_FINDINGS,
  type TransitionInput,
  transition,
} from '../../src/health/alert-state.js';
import type { Finding } from '../../src/health/finding.js';

const finding = (subject: string, severity: Finding['severity'] = 'warning'): Finding => ({
  check: 'backlog',
  severity,
  subject,
  summary: `\`${subject}\` holds messages`,
});

function input(over: Partial<TransitionInput>): TransitionInput {
  return {
    id: 'backlog@prod',
    cluster: 'prod',
    check: 'backlog',
    channel: 'C0ALERTS',
    previous: undefined,
    firing: [],
    now: 1_000_000,
    repeatIntervalMs: 4 * 3_600_000,
    quiet: false,
    ...over,
  };
}

function fired(over: Partial<AlertState> = {}): AlertState {
  const { state } = transition(input({ firing: [finding('/q1')] }));
  return { ...(state as AlertState), ts: '111.222', ...over };
}

describe('alert lifecycle transition', () => {
  it('stays quiet while nothing fires and nothing fired', () => {
    expect(transition(input({}))).toEqual({ state: undefined, event: 'quiet' });
  });

  it('fires with the worst severity and findings most severe first', () => {
    const { state, event } = transition(input({ firing: [finding('/b'), finding('/a', 'critical'), finding('/c')] }));
    expect(event).toBe('fired');
    expect(state?.severity).toBe('critical');
    expect(state?.findings.map((f) => f.subject)).toEqual(['/a', '/b', '/c']);
    expect(state).toMatchObject({ status: 'firing', firedAt: 1_000_000, channel: 'C0ALERTS', replies: [] });
  });

  it('keeps at most MAX_STORED_FINDINGS findings but counts them all', () => {
    const many = Array.from({ length: MAX_STORED_FINDINGS + 20 }, (_, i) => finding(`/q${String(i).padStart(4, '0')}`));
    const { state } = transition(input({ firing: many }));
    expect(state?.findings).toHaveLength(MAX_STORED_FINDINGS);
    expect(state?.findingCount).toBe(MAX_STORED_FINDINGS + 20);
  });

  it('is unchanged when the same findings fire again, updated when they change', () => {
    const previous = fired();
    expect(transition(input({ previous, firing: [finding('/q1')], now: 1_060_000 })).event).toBe('unchanged');
    const changed = transition(input({ previous, firing: [finding('/q1'), finding('/q2')], now: 1_060_000 }));
    expect(changed.event).toBe('updated');
    expect(changed.state?.findingCount).toBe(2);
    expect(changed.state?.ts).toBe('111.222');
    expect(changed.state?.firedAt).toBe(1_000_000);
  });

  it('reminds in the thread after the repeat interval, unless silenced or acked', () => {
    const previous = fired();
    const later = 1_000_000 + 4 * 3_600_000;
    const reminded = transition(input({ previous, firing: [finding('/q1')], now: later }));
    expect(reminded.event).toBe('reminded');
    expect(reminded.state?.replies).toEqual([':bell: Still firing after 4 h:\n• `/q1` holds messages']);
    expect(reminded.state?.remindedAt).toBe(later);
    expect(transition(input({ previous, firing: [finding('/q1')], now: later, quiet: true })).event).toBe('unchanged');
    expect(transition(input({ previous, firing: [finding('/q1')], now: later - 1 })).event).toBe('unchanged');
  });

  it('does not remind an alert that never reached Slack', () => {
    const previous = fired({ ts: undefined });
    expect(transition(input({ previous, firing: [finding('/q1')], now: 1_000_000 + 5 * 3_600_000 })).event).toBe(
      'unchanged',
    );
  });

  it('resolves with a thread reply saying how long it lasted, and fires anew afterwards', () => {
    const previous = fired();
    const { state, event } = transition(input({ previous, now: 1_000_000 + 25 * 60_000 }));
    expect(event).toBe('resolved');
    expect(state).toMatchObject({ status: 'resolved', resolvedAt: 1_000_000 + 25 * 60_000, ts: '111.222' });
    expect(state?.replies).toEqual([':white_check_mark: Resolved after 25 min.']);
    expect(transition(input({ previous: state, now: 2_000_000 })).event).toBe('quiet');
    const again = transition(input({ previous: state, firing: [finding('/q1')], now: 3_000_000 }));
    expect(again.event).toBe('fired');
    expect(again.state?.ts).toBeUndefined();
    expect(again.state?.firedAt).toBe(3_000_000);
    // The old message's resolution reply is still queued: it is carried until Slack has it.
    expect(again.state?.superseded).toEqual([state]);
  });

  it('fires anew without carrying an old message that Slack already shows resolved', () => {
    const resolved = transition(input({ previous: fired(), now: 2_000_000 })).state as AlertState;
    const shown = { ...resolved, replies: [] };
    const again = transition(input({ previous: shown, firing: [finding('/q1')], now: 3_000_000 }));
    expect(again.state).not.toHaveProperty('superseded');
  });

  it('carries every earlier message still owed to Slack, oldest first, through updates and resolutions', () => {
    const first = transition(input({ previous: fired({ ts: '1.1' }), now: 2_000_000 })).state as AlertState;
    const second = transition(input({ previous: first, firing: [finding('/q2')], now: 3_000_000 })).state as AlertState;
    const posted = { ...second, ts: '2.2' };
    const updated = transition(input({ previous: posted, firing: [finding('/q2'), finding('/q3')], now: 3_060_000 }));
    expect(updated.state?.superseded).toEqual([first]);
    const resolvedAgain = transition(input({ previous: updated.state, now: 4_000_000 })).state as AlertState;
    expect(resolvedAgain.superseded).toEqual([first]);
    const third = transition(input({ previous: resolvedAgain, firing: [finding('/q4')], now: 5_000_000 }));
    const { superseded: _, ...secondOwn } = resolvedAgain;
    expect(third.state?.superseded).toEqual([first, secondOwn]);
    expect(third.state?.superseded?.map((m) => m.ts)).toEqual(['1.1', '2.2']);
  });

  it('carries nothing of a resolved message that was never posted, only what it carried itself', () => {
    const first = transition(input({ previous: fired({ ts: '1.1' }), now: 2_000_000 })).state as AlertState;
    const second = transition(input({ previous: first, firing: [finding('/q2')], now: 3_000_000 })).state as AlertState;
    const neverPosted = transition(input({ previous: second, now: 3_500_000 })).state as AlertState;
    const third = transition(input({ previous: neverPosted, firing: [finding('/q3')], now: 4_000_000 }));
    expect(third.state?.superseded).toEqual([first]);
  });

  it('resolves an alert that was never posted without a reply to nobody', () => {
    const { state } = transition(input({ previous: fired({ ts: undefined }), now: 2_000_000 }));
    expect(state?.status).toBe('resolved');
    expect(state?.replies).toEqual([]);
  });
});
