import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { messageExamples, messagesPage } from '../support/message-examples.js';

const page = resolve(import.meta.dirname, '..', '..', 'docs', 'messages.md');

describe('docs/messages.md', () => {
  it('shows the messages as the code renders them now', () => {
    const now = messagesPage();
    if (process.env.UPDATE_DOCS === '1') writeFileSync(page, now);
    expect(readFileSync(page, 'utf8')).toBe(now);
  });

  it('covers an alert firing, a grouped tap alert, an approval request with its buttons, and a resolved alert', () => {
    const json = messageExamples().map((e) => JSON.stringify(e.message.blocks));
    expect(json[0]).toMatch(/WARNING: Zombie fanout.*Fix…/);
    expect(json[1]).toMatch(/compute\.instance\.create\.error.*NoValidHost/);
    expect(json[2]).toMatch(/Approve.*Reject/);
    expect(json[3]).toContain('RESOLVED');
  });
});
