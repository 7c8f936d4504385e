import { describe, expect, it } from 'vitest';
import { mrkdwnToText, renderMessage } from '../../src/chat/render-text.js';

describe('renderMessage', () => {
  it('renders Block Kit as readable text with numbered buttons', () => {
    const { text, buttons } = renderMessage(
      {
        text: 'fallback',
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Zombie queues' } },
          { type: 'section', text: { type: 'mrkdwn', text: ':warning: 2 queues in <#C1OPS>' } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: '*Queue*\nq1' },
              { type: 'mrkdwn', text: '*Messages*\n12' },
            ],
          },
          { type: 'context', elements: [{ type: 'mrkdwn', text: 'seen by <@U1>' }] },
          { type: 'divider' },
          {
            type: 'actions',
            elements: [
              { type: 'button', action_id: 'fix', value: 'a1', text: { type: 'plain_text', text: 'Fix…' } },
              { type: 'button', action_id: 'silence', value: 'a1', text: { type: 'plain_text', text: 'Silence 1h' } },
            ],
          },
        ],
      },
      3,
    );
    expect(text).toBe(
      [
        '== Zombie queues ==',
        '[!] 2 queues in #C1OPS',
        '  Queue: q1    Messages: 12',
        '  (seen by @U1)',
        '----',
        '[3] Fix…  [4] Silence 1h',
      ].join('\n'),
    );
    expect(buttons).toEqual([
      { actionId: 'fix', value: 'a1', label: 'Fix…' },
      { actionId: 'silence', value: 'a1', label: 'Silence 1h' },
    ]);
  });

  it('falls back to the text when there are no blocks', () => {
    expect(renderMessage({ text: 'hello <@U1>' }).text).toBe('hello @U1');
    expect(mrkdwnToText('see <https://x.example|the docs> :unknown_emoji:')).toBe(
      'see the docs (https://x.example) :unknown_emoji:',
    );
    // Strike-through and code fences are Slack decorations too.
    expect(mrkdwnToText('~Was:~\n```NoValidHost: no host```')).toBe('Was:\nNoValidHost: no host');
  });
});
