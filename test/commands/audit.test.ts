/**
 * `/rabbit audit`: every entry names the vhosts its run acts in; `--vhost` keeps the runs in one; a channel limited
 * to some vhosts sees only runs within them (not runs across vhosts or on nodes, nor records that predate vhosts).
 */
import { describe, expect, it } from 'vitest';
import { auditCommand } from '../../commands/audit.js';
import type { CommandContext } from '../../src/chatops/command-definition.js';
import { VhostScope } from '../../src/chatops/vhost-scope.js';
import type { AuditEntry } from '../../src/remediation/audit-log.js';
import type { RemediationControl } from '../../src/remediation/remediation-control.js';

const entry = (run: string, vhosts: string[] | undefined, at: number): AuditEntry => ({
  id: `${at}-0`,
  at,
  event: 'step-done',
  run,
  workflow: 'purge-queue',
  cluster: 'prod',
  ...(vhosts ? { vhosts } : {}),
  user: 'warren',
  detail: 'done',
});

// Newest first, as the audit log answers.
const TRAIL = [
  entry('r-0000000a', ['/neutron'], 5),
  entry('r-0000000b', ['/nova'], 4),
  entry('r-0000000c', [], 3),
  entry('r-0000000d', ['/neutron', '/nova'], 2),
  entry('r-0000000e', undefined, 1),
];

function context(scope?: VhostScope): { context: CommandContext; asked: number[] } {
  const asked: number[] = [];
  const remediation = {
    audit: async (count: number) => {
      asked.push(count);
      return TRAIL.slice(0, count);
    },
  } as unknown as RemediationControl;
  return { context: { remediation, ...(scope ? { vhostScope: scope } : {}) } as CommandContext, asked };
}

const run = async (words: string[], scope?: VhostScope) => {
  const { context: ctx, asked } = context(scope);
  const at = words.indexOf('--vhost');
  const args = auditCommand.args.parse({
    positionals: at < 0 ? words : words.slice(0, at),
    flags: at < 0 ? {} : { vhost: words[at + 1] as string },
  });
  return { text: (await auditCommand.run(ctx, args)).text, asked };
};

const runsIn = (text: string) => [...text.matchAll(/`(r-[0-9a-f]{8})`/g)].map((m) => m[1]);

describe('/rabbit audit', () => {
  it('names the vhosts each run acts in, or that it acts on nodes', async () => {
    const { text, asked } = await run(['5']);
    expect(asked).toEqual([5]);
    expect(text).toContain('`r-0000000a` purge-queue@prod in `/neutron` *step-done*');
    expect(text).toContain('`r-0000000c` purge-queue@prod on nodes *step-done*');
    expect(text).toContain('`r-0000000d` purge-queue@prod in `/neutron`, `/nova` *step-done*');
    expect(text).toContain('`r-0000000e` purge-queue@prod *step-done*');
  });

  it('keeps the runs in one vhost with --vhost, looking further back than N', async () => {
    const { text, asked } = await run(['2', '--vhost', '/nova']);
    expect(asked).toEqual([1_000]);
    expect(runsIn(text)).toEqual(['r-0000000b', 'r-0000000d']);
    expect(text).toContain('runs in vhost `/nova`');
  });

  it('shows a scoped channel only the runs within its vhosts', async () => {
    const { text } = await run(['20'], new VhostScope(['/neutron']));
    expect(runsIn(text)).toEqual(['r-0000000a']);
    const none = await run(['20', '--vhost', '/neutron'], new VhostScope(['/nova']));
    expect(none.text).toBe(
      "No audit entries of runs in vhost `/neutron`, runs within `/nova` (this channel's vhosts) among the newest 1,000.",
    );
  });

  it('refuses a flag other than --vhost', () => {
    const parsed = auditCommand.args.safeParse({ positionals: [], flags: { cluster: 'prod' } });
    expect(parsed.error?.issues[0]?.message).toBe('audit takes only --vhost');
  });
});
