/**
 * Read and write credentials kept apart, on the real cluster: a user tagged `monitoring` serves every read
 * (commands, plans), cannot change the broker even when misconfigured as the remediation user, and a cluster
 * without remediation credentials gets no remediation run at all, only dry runs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterConfig } from '../../src/config/schema.js';
import { notification } from '../../src/demo/oslo-notifications.js';
import { attachLocalStack } from '../../src/devstack/index.js';
import { ManagementApiError, RemediationCredentialsError } from '../../src/errors.js';
import { ManagementClient } from '../../src/management/management-client.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import { watchSecret } from '../support/secret-scan.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('remediation-remediation-credentials');
const TAP_QUEUES = '^(amq\\.gen-.*|warren\\.tap\\..*)$';
const EXCHANGES = '^(nova|neutron|glance|keystone|heat|openstack)$';
const OPERATOR = 'U0OPERATOR';

describe('separate read and remediation credentials', () => {
  const desc = inject('stack');
  const stack = attachLocalStack(desc);
  const node = desc.nodes[0]?.name as string;
  const monitor = `warren-monitor-${randomUUID().slice(0, 6)}`;
  const monitorPassword = randomBytes(12).toString('hex');
  const queue = `warren-creds-${randomUUID().slice(0, 6)}`;
  let amqp: ChannelModel;
  let fake: FakeSlack;
  let warren: Warren;

  const cluster = (remediation?: ClusterConfig['remediation']): ClusterConfig => ({
    name: 'local',
    amqp: [],
    management: desc.nodes.map((n) => n.managementUrl),
    managementUser: monitor,
    managementPassword: monitorPassword,
    ...(remediation ? { remediation } : {}),
    vhost: '/',
  });

  /** The AMQP URL of a node with the monitoring user's credentials: the tap connects as that user. */
  const asMonitor = (url: string) => {
    const parsed = new URL(url);
    parsed.username = monitor;
    parsed.password = monitorPassword;
    return parsed.toString();
  };

  async function ctl(args: string[]): Promise<void> {
    const result = await stack.rabbitmqctl(node, args);
    if (result.code !== 0) throw new Error(`rabbitmqctl ${args[0]}: ${result.stderr}`);
  }

  beforeAll(async () => {
    watchSecret(monitorPassword);
    // What docs/security.md asks for: the monitoring tag, and permissions on the tap's own queues and the
    // notification exchanges only (read on every queue would let it purge them).
    await ctl(['add_user', monitor, monitorPassword]);
    await ctl(['set_user_tags', monitor, 'monitoring']);
    await ctl(['set_permissions', '-p', '/', monitor, TAP_QUEUES, TAP_QUEUES, `${TAP_QUEUES}|${EXCHANGES}`]);
    amqp = await connect(desc.nodes[0]?.amqpUrl as string);
    const channel = await amqp.createConfirmChannel();
    await channel.assertExchange('nova', 'topic', { durable: false });
    await channel.assertQueue(queue, { durable: false });
    for (let i = 0; i < 5; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    await channel.close();
    await flushHarnessRedis(desc, KEYS);
    fake = await FakeSlack.start();
    warren = await startHarnessWarren({
      stack: desc,
      fake,
      keyPrefix: KEYS,
      clustersInYaml: true,
      yaml: `
clusters:
  - name: local
    amqp: [${desc.nodes.map((n) => JSON.stringify(asMonitor(n.amqpUrl))).join(', ')}]
    management: [${desc.nodes.map((n) => JSON.stringify(n.managementUrl)).join(', ')}]
    managementUser: ${monitor}
    managementPassword: ${monitorPassword}
slack:
  alertChannel: C0ALERTS
  channelInterval: 0ms
tap:
  exchangeRetry: 300ms
  updateInterval: 300ms
  bindings:
    - {exchange: nova, routingKeys: [notifications.error]}
health:
  enabled: false
access:
  operators: [${OPERATOR}]
  approvers: [U0APPROVER]
`,
    });
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    const channel = await amqp?.createChannel();
    await channel?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await stack.rabbitmqctl(node, ['delete_user', monitor]);
  });

  it('reads everything a sweep and the commands need with the monitoring user', async () => {
    const reader = new ManagementClient(cluster());
    expect((await reader.nodes()).map((n) => n.name).sort()).toEqual(desc.nodes.map((n) => n.name).sort());
    const reply = await slash(warren, fake, OPERATOR, `queues ${queue}`);
    expect(String(reply.text)).toContain(queue);
  });

  it('taps notifications with the monitoring user: its own queue, bound to the nova exchange', async () => {
    await waitUntil(() => warren.tap?.status()[0]?.bindings.every((b) => b.state === 'bound'), 'the tap to bind');
    const channel = await amqp.createConfirmChannel();
    const wire = notification('nova.instance.create.error', 'cmp-07', 2);
    channel.publish(wire.exchange, wire.routingKey, wire.body);
    await channel.waitForConfirms();
    await channel.close();
    const post = await fake.waitForCall('chat.postMessage', (c) => String(c.params.text).includes('cmp-07'));
    expect(post.params.channel).toBe('C0ALERTS');
  });

  it('writes nothing without remediation credentials, and the monitoring user could not anyway', async () => {
    await expect(new ManagementClient(cluster()).send('DELETE', `/api/queues/%2F/${queue}`)).rejects.toThrow(
      RemediationCredentialsError,
    );
    // Even pointed at the monitoring user by mistake, a write is refused by the broker itself.
    const misconfigured = new ManagementClient(cluster({ user: monitor, password: monitorPassword }));
    // (A bodiless endpoint answers 406 unless any content type is accepted.)
    const purge = { headers: { accept: '*/*' } };
    const refused = await misconfigured.send('DELETE', `/api/queues/%2F/${queue}/contents`, purge).catch((e) => e);
    expect(refused).toBeInstanceOf(ManagementApiError);
    expect([401, 403]).toContain((refused as ManagementApiError).status);
    const admin = new ManagementClient(cluster({ user: desc.username, password: desc.password }));
    expect((await admin.send('DELETE', `/api/queues/%2F/${queue}/contents`, purge)).status).toBe(204);
  });

  it('refuses to start a remediation run on the cluster, saying why, and still shows a dry run', async () => {
    const refusal = String((await slash(warren, fake, OPERATOR, `fix purge-queue ${queue} --force`)).text);
    expect(refusal).toMatch(/Remediation is off for cluster local: it has no remediation credentials/);
    expect(refusal).toMatch(/remediationUser/);
    expect(refusal).not.toContain(monitorPassword);
    const dryRun = String((await slash(warren, fake, OPERATOR, `fix purge-queue ${queue} --force --dry-run`)).text);
    expect(dryRun).toMatch(/purge/i);
    expect(dryRun).not.toMatch(/Remediation is off/);
    expect(
      fake.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.params.blocks ?? []).includes('purge-queue')),
    ).toEqual([]);
  });
});
