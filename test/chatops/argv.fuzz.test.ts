/**
 * Property-based fuzzing of the slash-command parser and router (fast-check): any text a user can type — unicode,
 * quotes of every kind, flags, control characters — is split without throwing, and the router answers every one of
 * them with a reply (usage, unknown command, refusal or an answer), never an exception and never an empty reply.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../commands/index.js';
import { AccessPolicy } from '../../src/chatops/access-policy.js';
import { parseArgv, tokenize } from '../../src/chatops/argv.js';
import { CommandRouter } from '../../src/chatops/command-router.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics } from '../../src/metrics.js';

const ARGV_RUNS = { tokenize: 5_000, router: 1_500 };

/** Text as typed in Slack: words, flags, quotes (straight and curly), and any unicode between them. */
const typed = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.constantFrom('--', '--force', '--limit', '--limit=5', '--vhost', '--by', '--dry-run', '-x', '='),
      fc.constantFrom('"', "'", '\u201c', '\u201d', '\u2018', '\u2019', ' ', '\t', '\n', '\u00a0', '\u0000'),
      fc.constantFrom(...allCommands.map((c) => c.name), 'fix', 'delete-zombie-queues', 'purge-queue', 'r-0123abcd'),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

// Port 9 (discard) refuses at once: the commands that reach for the management API get a clear failure quickly.
const clusters = new ClusterDirectory(
  [
    {
      name: 'prod',
      amqp: ['amqp://127.0.0.1:9'],
      management: ['http://127.0.0.1:9'],
      managementUser: 'monitor',
      managementPassword: 'fuzz-secret-password',
      vhost: '/',
    },
  ],
  { managementTimeoutMs: 1_000 },
);
const router = new CommandRouter({
  commands: allCommands,
  clusters,
  access: new AccessPolicy({ readers: [], operators: ['U0OPER'], approvers: [], channels: [] }),
  slashCommand: '/rabbit',
  logger: createLogger('silent'),
  metrics: createMetrics(),
});

describe('slash-command parsing under fuzzing', () => {
  it('tokenizes and parses any text without throwing or inventing characters', () => {
    fc.assert(
      fc.property(typed, (text) => {
        const tokens = tokenize(text);
        const argv = parseArgv(tokens, ['force', 'dry-run']);
        for (const token of tokens) for (const ch of token) expect(text).toContain(ch);
        expect(argv.positionals.length + Object.keys(argv.flags).length).toBeLessThanOrEqual(tokens.length);
      }),
      { numRuns: ARGV_RUNS.tokenize },
    );
  }, 60_000);

  it('answers any text with a non-empty reply and leaks no secret', async () => {
    await fc.assert(
      fc.asyncProperty(typed, fc.constantFrom('U0OPER', 'U0READER'), async (text, userId) => {
        const reply = await router.reply({ userId, channelId: 'C0OPS', text, respond: async () => undefined });
        expect(['ephemeral', 'in_channel']).toContain(reply.visibility);
        expect(reply.text.trim().length).toBeGreaterThan(0);
        expect(JSON.stringify(reply)).not.toContain('fuzz-secret-password');
      }),
      { numRuns: ARGV_RUNS.router },
    );
  }, 120_000);
});
