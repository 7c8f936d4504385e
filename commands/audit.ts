/**
 * `/rabbit audit [N] [--vhost V]`: the newest N (default 20, at most 100) entries of the remediation audit trail,
 * each with the vhosts its run acts in. `--vhost` keeps the runs that act in V. In a channel limited to some vhosts
 * (access.vhostScopes) it shows only runs that act in those vhosts alone: a run across vhosts or on nodes is not
 * that channel's to see. The full trail, for compliance, comes from `warren audit-export` as JSON lines.
 */
import { z } from 'zod';
import { type ChatReply, ephemeral, ephemeralSection } from '../src/chat/chat-message.js';
import { vhostList } from '../src/chat/vhost-text.js';
import { type CommandContext, defineCommand } from '../src/chatops/command-definition.js';
import type { VhostScope } from '../src/chatops/vhost-scope.js';
import { formatTime } from '../src/health/health-format.js';
import type { AuditEntry } from '../src/remediation/audit-log.js';

const MAX = 100;
/** How far back a filtered listing looks for its N entries. */
const SEARCHED = 1_000;

interface AuditArgs {
  count: number;
  vhost?: string;
}

/** Whether an entry's run acts in `vhost` (when asked) and only within `scope` (in a scoped channel). */
function shown(entry: AuditEntry, vhost: string | undefined, scope: VhostScope | undefined): boolean {
  // Records from before warren kept the vhosts say nothing of them: they match no filter.
  const vhosts = entry.vhosts ?? [];
  if (vhost !== undefined && !vhosts.includes(vhost)) return false;
  return scope === undefined || (vhosts.length > 0 && vhosts.every((v) => scope.allows(v)));
}

export const auditCommand = defineCommand<AuditArgs>({
  name: 'audit',
  usage: '[N] [--vhost V]',
  summary: 'Show the latest remediation audit entries (requests, approvals, steps, outcomes)',
  access: 'read',
  vhosts: 'scoped',
  args: z
    .object({
      positionals: z
        .array(z.string().regex(/^\d+$/, 'N must be a whole number'))
        .max(1, 'audit takes at most one number'),
      flags: z.strictObject({ vhost: z.string().min(1).optional() }, { error: 'audit takes only --vhost' }),
    })
    .transform(({ positionals, flags }) => ({
      count: Number(positionals[0] ?? 20),
      ...(flags.vhost !== undefined ? { vhost: flags.vhost } : {}),
    }))
    .refine((a) => a.count >= 1 && a.count <= MAX, `N must be between 1 and ${MAX}`),
  async run(context: CommandContext, { count, vhost }): Promise<ChatReply> {
    const remediation = context.remediation;
    if (!remediation) return ephemeral('Remediation is not available in this warren.');
    const scope = context.vhostScope;
    const filtered = vhost !== undefined || scope !== undefined;
    const entries = filtered
      ? (await remediation.audit(SEARCHED)).filter((e) => shown(e, vhost, scope)).slice(0, count)
      : await remediation.audit(count);
    const which = [
      vhost !== undefined ? `runs in vhost \`${vhost}\`` : '',
      scope !== undefined ? `runs within ${scope.describe()} (this channel's vhosts)` : '',
    ]
      .filter(Boolean)
      .join(', ');
    if (entries.length === 0) {
      return ephemeral(
        filtered
          ? `No audit entries of ${which} among the newest ${SEARCHED.toLocaleString('en-US')}.`
          : 'The audit trail is empty.',
      );
    }
    const lines = entries.map((e) => {
      const who = e.user === 'warren' ? 'warren' : `<@${e.user}>`;
      const where = e.vhosts === undefined ? '' : e.vhosts.length === 0 ? ' on nodes' : ` in ${vhostList(e.vhosts)}`;
      return `\`${formatTime(e.at)}\` \`${e.run}\` ${e.workflow}@${e.cluster}${where} *${e.event}* by ${who}${e.detail ? `: ${e.detail}` : ''}`;
    });
    const heading = `*Audit trail*, newest first (${entries.length}${filtered ? `; ${which}` : ''})`;
    return ephemeralSection(`${heading}\n${lines.join('\n')}`);
  },
});
