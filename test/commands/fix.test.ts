import { describe, expect, it } from 'vitest';
import { fixCommand } from '../../commands/fix.js';
import { parseArgv, tokenize } from '../../src/chatops/argv.js';

const parse = (text: string) => fixCommand.args.safeParse(parseArgv(tokenize(text), fixCommand.booleanFlags));

describe('fix arguments', () => {
  it('separates warren flags from the workflow arguments it passes on', () => {
    const parsed = parse('purge-queue "notifications info" --vhost=/nova --force --cluster prod --dry-run');
    expect(parsed.success && parsed.data).toEqual({
      target: 'purge-queue',
      words: { positionals: ['notifications info'], flags: { vhost: '/nova', force: true } },
      cluster: 'prod',
      dryRun: true,
    });
  });

  it('asks for read access for a dry run and operator access for a real one', () => {
    const dry = parse('delete-zombie-queues --dry-run');
    const real = parse('delete-zombie-queues');
    expect(dry.success && fixCommand.accessFor?.(dry.data)).toBe('read');
    expect(real.success && fixCommand.accessFor?.(real.data)).toBe('operate');
  });

  it('needs a workflow or alert id', () => {
    const parsed = parse('');
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/workflow name or an alert id/);
  });
});
