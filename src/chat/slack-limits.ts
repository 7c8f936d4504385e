/**
 * Keeps a message within Slack's hard limits (50 blocks, 3,000 characters per section text, 10 fields per section,
 * 40,000 characters of fallback text), saying what was left out instead of letting Slack reject the whole message.
 */
import type { KnownBlock } from '@slack/types';
import type { ChatMessage } from './chat-message.js';

export const MAX_BLOCKS = 50;
export const MAX_SECTION_TEXT = 3_000;
export const MAX_FIELDS = 10;
export const MAX_TEXT = 40_000;

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  // The note's own length depends on the count it states; settle it in two passes.
  let note = `… (${text.length - max} more characters left out)`;
  note = `… (${text.length - (max - note.length)} more characters left out)`;
  return `${text.slice(0, max - note.length)}${note}`;
}

function fitBlock(block: KnownBlock): KnownBlock {
  if (block.type !== 'section') return block;
  const out = { ...block };
  if (out.text) out.text = { ...out.text, text: cut(out.text.text, MAX_SECTION_TEXT) };
  if (out.fields && out.fields.length > MAX_FIELDS) out.fields = out.fields.slice(0, MAX_FIELDS);
  return out;
}

export function fitToSlack<M extends ChatMessage>(message: M): M {
  const text = cut(message.text, MAX_TEXT);
  if (!message.blocks) return { ...message, text };
  let blocks = message.blocks.map(fitBlock);
  if (blocks.length > MAX_BLOCKS) {
    const left = blocks.length - (MAX_BLOCKS - 1);
    blocks = [
      ...blocks.slice(0, MAX_BLOCKS - 1),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `${left} more block(s) left out: too long for one Slack message` }],
      },
    ];
  }
  return { ...message, text, blocks };
}
