/**
 * What keeps a 4.x cluster upgradable and replicated, each finding naming its culprit:
 * - a stable feature flag left disabled: the next RabbitMQ version may require it, and a node refuses to start
 *   with flags it requires disabled (experimental flags such as `khepri_db` on 4.0 are an operator's choice);
 * - a deprecated feature in use (`/api/deprecated-features/used`): the version that removes it will not start,
 *   or will stop doing what the cluster relies on;
 * - nodes on different RabbitMQ or Erlang versions: only meant to last the length of a rolling upgrade;
 * - on 4.x, classic queues holding OpenStack RPC traffic: no replication at all (classic mirroring is gone), so
 *   the service's RPC stops with the node. oslo's `rabbit_quorum_queue` makes the RPC queues quorum queues, and
 *   `rabbit_transient_quorum_queue` does the same for fanout and reply queues. RPC queues are recognised by their
 *   topic: `<topic>` and `<topic>.<server>` beside a `<topic>_fanout…` queue or stream.
 * Judges only.
 */
import { formatCount } from '../../chat/human-format.js';
import { atLeast, nodeBrokerVersion, seriesOf } from '../../management/broker-version.js';
import type { ClusterSnapshot, QueueInfo } from '../cluster-snapshot.js';
import type { Finding } from '../finding.js';
import { type CheckContext, defineCheck } from '../health-check.js';
import { parseOsloQueueName } from '../oslo-queue-names.js';
import { rpcTopicOf, rpcTopics } from './delivery-limit.js';

const ID = 'broker-hygiene';
const LISTED = 10;

function featureFlagFindings(snapshot: ClusterSnapshot): Finding[] {
  return (snapshot.featureFlags ?? [])
    .filter((f) => f.state !== 'enabled' && f.stability !== 'experimental')
    .map((f) => ({
      check: ID,
      severity: 'warning' as const,
      subject: `feature-flag:${f.name}`,
      summary: `Feature flag \`${f.name}\` is ${f.state}: it can block the next upgrade`,
      details: [
        ...(typeof f.desc === 'string' && f.desc ? [f.desc] : []),
        `Enable it once every node runs this version: \`rabbitmqctl enable_feature_flag ${f.name}\` (or \`all\`)`,
      ],
      data: { flag: f.name, state: f.state, stability: (f.stability as string | undefined) ?? null },
    }));
}

function deprecatedFindings(snapshot: ClusterSnapshot): Finding[] {
  return (snapshot.deprecatedFeatures ?? []).map((f) => ({
    check: ID,
    severity: 'warning' as const,
    subject: `deprecated:${f.name}`,
    summary: `Deprecated feature \`${f.name}\` is in use${f.phase ? ` (${f.phase.replaceAll('_', ' ')})` : ''}`,
    details: [
      'A later RabbitMQ removes it: stop using it before upgrading (see the deprecated features in the release notes)',
    ],
    data: { feature: f.name, phase: f.phase ?? null },
  }));
}

function versionFindings(snapshot: ClusterSnapshot): Finding[] {
  const rabbit = new Map<string, string>();
  for (const n of snapshot.nodes ?? []) {
    const v = n.running ? nodeBrokerVersion(n) : undefined;
    if (v) rabbit.set(n.name, v.raw);
  }
  for (const e of snapshot.endpoints) if (e.node && e.version && !rabbit.has(e.node)) rabbit.set(e.node, e.version);
  const erlang = new Map<string, string>();
  for (const e of snapshot.endpoints) if (e.node && e.erlangVersion) erlang.set(e.node, e.erlangVersion);
  const findings: Finding[] = [];
  for (const [what, versions] of [
    ['RabbitMQ', rabbit],
    ['Erlang', erlang],
  ] as const) {
    if (new Set(versions.values()).size < 2) continue;
    const lines = [...versions].sort(([a], [b]) => a.localeCompare(b)).map(([node, v]) => `\`${node}\`: ${v}`);
    findings.push({
      check: ID,
      severity: 'warning',
      subject: `versions:${what.toLowerCase()}`,
      summary: `Nodes run different ${what} versions: ${[...new Set(versions.values())].sort().join(', ')}`,
      details: [...lines, 'Finish the rolling upgrade: a mixed cluster offers only what its oldest node offers'],
      data: { what, versions: Object.fromEntries(versions) },
    });
  }
  return findings;
}

function classicOsloFindings(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  if (!context.version || !atLeast(context.version, 4, 0)) return [];
  const queues = snapshot.queues ?? [];
  const topics = rpcTopics(queues);
  const rpc = new Map<string, QueueInfo[]>();
  const transient = new Map<string, QueueInfo[]>();
  for (const q of queues) {
    if (q.type !== 'classic' || q.exclusive) continue;
    const kind = parseOsloQueueName(q.name)?.kind;
    const into =
      kind === 'fanout' || kind === 'reply' ? transient : rpcTopicOf(q.name, topics) !== undefined ? rpc : undefined;
    if (!into) continue;
    const list = into.get(q.vhost) ?? [];
    list.push(q);
    into.set(q.vhost, list);
  }
  const findings: Finding[] = [];
  const series = seriesOf(context.version);
  for (const [kind, byVhost, option] of [
    ['rpc', rpc, 'rabbit_quorum_queue'],
    ['transient', transient, 'rabbit_transient_quorum_queue'],
  ] as const) {
    for (const [vhost, list] of byVhost) {
      const names = list.map((q) => q.name).sort();
      const what = kind === 'rpc' ? 'RPC queue(s)' : 'fanout or reply queue(s)';
      findings.push({
        check: ID,
        severity: kind === 'rpc' ? 'warning' : 'info',
        subject: `classic-${kind}:${vhost}`,
        summary: `${formatCount(list.length)} OpenStack ${what} in vhost \`${vhost}\` are classic queues: not replicated on RabbitMQ ${series}`,
        details: [
          `${names
            .slice(0, LISTED)
            .map((n) => `\`${n}\``)
            .join(', ')}${names.length > LISTED ? ` and ${names.length - LISTED} more` : ''}`,
          `Set \`${option} = true\` in \`[oslo_messaging_rabbit]\` of the services that declare them and restart them; delete the old classic queues once they are drained (a queue's type cannot change)`,
        ],
        data: { kind, vhost, queues: names.length, option },
      });
    }
  }
  return findings;
}

function evaluate(snapshot: ClusterSnapshot, context: CheckContext): Finding[] {
  return [
    ...featureFlagFindings(snapshot),
    ...deprecatedFindings(snapshot),
    ...versionFindings(snapshot),
    ...classicOsloFindings(snapshot, context),
  ].sort((a, b) => a.subject.localeCompare(b.subject));
}

export const brokerHygieneCheck = defineCheck({
  id: ID,
  title: 'Broker hygiene',
  hint:
    'Each finding says what to change: enable the feature flags once every node is upgraded, stop using ' +
    'deprecated features before the next upgrade, finish a rolling upgrade, and on 4.x give OpenStack RPC ' +
    'quorum queues (`rabbit_quorum_queue`, `rabbit_transient_quorum_queue`).',
  needs: ['nodes', 'queues', 'featureFlags'],
  evaluate,
});
