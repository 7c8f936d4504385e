import { describe, expect, it } from 'vitest';
import { parseArgv, tokenize } from '../../src/chatops/argv.js';

describe('tokenize', () => {
  it('splits on whitespace and groups quoted words, straight or curly', () => {
    expect(tokenize('  queues  --sort messages "a b"  ')).toEqual(['queues', '--sort', 'messages', 'a b']);
    expect(tokenize('silence zombie 1h \u201cnoisy at night\u201d')).toEqual([
      'silence',
      'zombie',
      '1h',
      'noisy at night',
    ]);
    expect(tokenize("x 'it''s'")).toEqual(['x', 'its']);
    expect(tokenize('empty ""')).toEqual(['empty', '']);
  });

  it('never evaluates anything shell-like', () => {
    expect(tokenize('status $(rm -rf /) `id` ; ls')).toEqual(['status', '$(rm', '-rf', '/)', '`id`', ';', 'ls']);
  });
});

describe('parseArgv', () => {
  it('separates positionals and flags', () => {
    expect(parseArgv(['a', '--limit', '5', '--sort=name', 'b'])).toEqual({
      positionals: ['a', 'b'],
      flags: { limit: '5', sort: 'name' },
    });
  });

  it('keeps boolean flags from swallowing the next word', () => {
    expect(parseArgv(['--force', 'q1'], ['force'])).toEqual({ positionals: ['q1'], flags: { force: true } });
    expect(parseArgv(['--force', 'q1'])).toEqual({ positionals: [], flags: { force: 'q1' } });
  });

  it('treats a flag at the end or before another flag as boolean, and -- as end of flags', () => {
    expect(parseArgv(['--dry-run', '--x', '1', '--', '--literal'])).toEqual({
      positionals: ['--literal'],
      flags: { 'dry-run': true, x: '1' },
    });
  });
});
