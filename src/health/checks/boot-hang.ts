/**
 * A node hung in its boot (runbook 1.4 step 4, 1.6): its VM answers node control, its rabbit application has been
 * booting for `thresholds.bootHang` (3 minutes by default) and has not finished. Two causes, two answers:
 * - no other node runs: it waits for its peers, the node that stopped last above all (10 tries of 30 s, then it
 *   gives up). Start that node first; the order is the one warren recorded (stop-order.ts).
 * - other nodes run: the boot should have found them at once. A boot that hangs with its peers up (the `global`
 *   registry hang RabbitMQ 3.10 added a workaround for, among others) does not end by itself: end the VM and start it
 *   again.
 * The Fix… is start-cluster either way, which starts the peers in that order and waits for the hung node, or ends
 * and starts the hung node's VM again when it still does not finish. Needs node control: only the CLI tells a
 * booting node from a stopped one (`booting`, read by boot-watch.ts).
 */
import { formatUptime, formatUtc } from '../../chat/human-format.js';
import type { ClusterSnapshot } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';

const ID = 'boot-hang';

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(', ');

/** Every node warren saw running, the last seen first: the order to start them in after a whole-cluster stop. */
function lastStoppedFirst(lastSeen: ReadonlyMap<string, number> | undefined): [string, number][] {
  return [...(lastSeen ?? [])].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  const running = (snapshot.nodes ?? []).filter((n) => n.running).map((n) => n.name);
  return (snapshot.booting ?? [])
    .filter((boot) => snapshot.takenAt - boot.since >= context.thresholds.bootHang)
    .map((boot) => {
      const { node, since } = boot;
      const lasting = `booting since ${formatUtc(since)}, ${formatUptime(snapshot.takenAt - since)} at the last look`;
      if (running.length > 0) {
        return {
          check: ID,
          severity: 'critical',
          subject: node,
          summary: `\`${node}\` is hung in its boot while ${code(running)} run`,
          details: [
            `Its VM answers and its rabbit app is ${lasting}.`,
            'With its peers up a boot finds them at once: one that hangs (such as the `global` registry hang RabbitMQ 3.10 works around) does not end by itself. End its VM and start it again (Fix…, with `nodeControl.service`), or restart the service on its host.',
          ],
          data: { node, since, peersRunning: running, startOrder: [node] },
        } satisfies Finding;
      }
      const order = lastStoppedFirst(context.lastSeenRunning);
      const [first] = order.find(([name]) => name !== node) ?? [];
      const details = [
        `Its VM answers and its rabbit app is ${lasting}.`,
        'No other node runs: it waits for its peers, the node that stopped last above all, and gives up after 10 tries of 30 s (the default).',
      ];
      if (first) {
        details.push(
          `Start \`${first}\` first: warren saw it running last (${formatUtc(order[0]?.[1] ?? 0)}); then the others (Fix…: start-cluster, in the order warren recorded: ${code(order.map(([name]) => name))}).`,
          `If \`${first}\` is lost for good: \`/rabbit fix force-boot\` on the node that stopped next to last.`,
        );
      } else {
        details.push('warren has no record of the order the nodes stopped in: start the node that stopped last first.');
      }
      return {
        check: ID,
        severity: 'critical',
        subject: node,
        summary: first
          ? `\`${node}\` is hung in its boot, waiting for its peers: start \`${first}\` first`
          : `\`${node}\` is hung in its boot, waiting for its peers`,
        details,
        data: {
          node,
          since,
          peersRunning: [],
          ...(first ? { startOrder: order.map(([name]) => name) } : {}),
        },
      } satisfies Finding;
    });
}

export const bootHangCheck = defineCheck({
  id: ID,
  title: 'Node hung in its boot',
  hint:
    'With every peer down, start the node that stopped last first. With peers running, end the hung VM and start ' +
    'the service again. If the last-stopped node is lost, `rabbitmqctl force_boot` on the next one.',
  needs: ['booting'],
  workflow: 'start-cluster',
  evaluate,
});
