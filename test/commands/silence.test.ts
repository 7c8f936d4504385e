import { describe, expect, it } from 'vitest';
import { silenceCommand } from '../../commands/silence.js';

const parse = (...positionals: string[]) => silenceCommand.args.safeParse({ positionals, flags: {} });

describe('/rabbit silence arguments', () => {
  it('takes a target, a duration and the rest as the reason', () => {
    expect(parse('zombie-queues@prod', '2h', 'nova', 'upgrade').data).toEqual({
      target: 'zombie-queues@prod',
      durationMs: 7_200_000,
      reason: 'nova upgrade',
    });
    expect(parse('backlog', '30m').data).toEqual({ target: 'backlog', durationMs: 1_800_000, reason: '' });
  });

  it('refuses a missing or malformed duration and one longer than 30 days', () => {
    expect(parse('backlog').error?.issues[0]?.message).toBe('silence needs an alert or check id and a duration');
    expect(parse('backlog', 'soon').error?.issues[0]?.message).toBe('not a duration: "soon" (write e.g. 30m, 2h, 1d)');
    expect(parse('backlog', '31d').error?.issues[0]?.message).toBe(
      'a silence lasts at most 30d; fix the cause or disable the check',
    );
  });
});
