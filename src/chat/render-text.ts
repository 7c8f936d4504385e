/**
 * Block Kit → readable terminal text, for the console front end. Buttons become numbered choices, which the
 * console collects so the operator can answer by typing the number.
 */
import type { KnownBlock } from '@slack/types';
import type { ChatMessage } from './chat-message.js';

export interface RenderedButton {
  actionId: string;
  value: string;
  label: string;
}

const EMOJI: Record<string, string> = {
  large_green_circle: '[ok]',
  red_circle: '[!!]',
  warning: '[!]',
  white_check_mark: '[ok]',
  x: '[x]',
  hourglass_flowing_sand: '[..]',
};

/** Slack's mrkdwn decorations that mean nothing in a terminal: links, mentions, bold markers, emoji codes. */
export function mrkdwnToText(text: string): string {
  return text
    .replace(/<#([A-Z0-9]+)(\|[^>]*)?>/g, '#$1')
    .replace(/<@([A-Z0-9]+)(\|[^>]*)?>/g, '@$1')
    .replace(/<!subteam\^([A-Z0-9]+)(\|[^>]*)?>/g, '@$1')
    .replace(/<([^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/\*([^*\n]+)\*/g, '$1')
    .replace(/~([^~\n]+)~/g, '$1')
    .replace(/```/g, '')
    .replace(/:([a-z0-9_+-]+):/g, (match, name: string) => EMOJI[name] ?? match);
}

function textOf(value: unknown): string {
  if (value && typeof value === 'object' && 'text' in value) return mrkdwnToText(String(value.text));
  return '';
}

export function renderBlocks(
  blocks: readonly KnownBlock[],
  firstChoice = 1,
): { lines: string[]; buttons: RenderedButton[] } {
  const lines: string[] = [];
  const buttons: RenderedButton[] = [];
  for (const block of blocks) {
    switch (block.type) {
      case 'header':
        lines.push(`== ${textOf(block.text)} ==`);
        break;
      case 'section': {
        if (block.text) lines.push(textOf(block.text));
        const fields = (block.fields ?? []).map((f) => textOf(f).replace(/\n/g, ': '));
        for (let i = 0; i < fields.length; i += 2) lines.push(`  ${fields.slice(i, i + 2).join('    ')}`);
        break;
      }
      case 'context':
        lines.push(
          `  (${block.elements
            .map((e) => textOf(e))
            .filter(Boolean)
            .join(' · ')})`,
        );
        break;
      case 'divider':
        lines.push('----');
        break;
      case 'actions': {
        const labels: string[] = [];
        for (const element of block.elements) {
          if (element.type !== 'button') continue;
          const number = firstChoice + buttons.length;
          buttons.push({ actionId: element.action_id ?? '', value: element.value ?? '', label: element.text.text });
          labels.push(`[${number}] ${element.text.text}`);
        }
        if (labels.length > 0) lines.push(labels.join('  '));
        break;
      }
      default:
        break;
    }
  }
  return { lines, buttons };
}

export function renderMessage(message: ChatMessage, firstChoice = 1): { text: string; buttons: RenderedButton[] } {
  if (!message.blocks || message.blocks.length === 0) return { text: mrkdwnToText(message.text), buttons: [] };
  const { lines, buttons } = renderBlocks(message.blocks, firstChoice);
  return { text: lines.join('\n'), buttons };
}
