import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { fitToSlack, MAX_BLOCKS, MAX_SECTION_TEXT } from '../../src/chat/slack-limits.js';

describe('fitToSlack', () => {
  it('keeps 49 blocks and says how many more were left out', () => {
    const blocks: KnownBlock[] = Array.from({ length: 60 }, (_, i) => ({
      type: 'section',
      text: { type: 'mrkdwn', text: `node ${i}` },
    }));
    const fitted = fitToSlack({ text: 'status', blocks });
    expect(fitted.blocks).toHaveLength(MAX_BLOCKS);
    expect(fitted.blocks?.at(-2)).toEqual(blocks[48]);
    expect(fitted.blocks?.at(-1)).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '11 more block(s) left out: too long for one Slack message' }],
    });
  });

  it('cuts a long section text with a count of what was cut, and leaves small messages alone', () => {
    const long = 'x'.repeat(5000);
    const fitted = fitToSlack({ text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: long } }] });
    const text = (fitted.blocks as Array<{ text: { text: string } }>)[0]?.text.text ?? '';
    expect(text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
    const kept = text.indexOf('…');
    expect(text.slice(kept)).toBe(`… (${5000 - kept} more characters left out)`);
    const small = { text: 'ok', blocks: [{ type: 'divider' as const }] };
    expect(fitToSlack(small)).toEqual(small);
  });
});
