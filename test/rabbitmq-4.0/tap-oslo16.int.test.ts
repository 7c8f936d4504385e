/**
 * The tap against a real oslo.messaging 16 notifier in quorum mode (`rabbit_quorum_queue`, as kolla-ansible and
 * openstack-ansible configure it since 2024.1), publishing errors into `nova` and `openstack`, with warren posting
 * them to the fake Slack: in exclusive mode with the default config, with `tap.declareExchanges` (an exchange oslo
 * declared durable is bound as it is, not refused with 406), and in durable mode (a quorum queue, which RabbitMQ 4.0
 * gives a delivery limit of 20).
 *
 * RabbitMQ 4.0 only: oslo.messaging 16 comes with the 4.0 stack's trixie root (the 3.10 stack has bookworm's 14),
 * and the quorum queue's default delivery limit exists from 4.0 on. The tap's version-neutral behaviour runs on both
 * in test/tap/notification-tap.int.test.ts. Each test has a vhost of its own, so the exchanges are oslo's to declare
 * first (the other tap tests declare a non-durable `nova` in `/`, which a quorum-mode oslo cannot publish to).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
import { osloLockPath } from '../support/oslo-agent.js';
import {
  FAST_TAP_YAML,
  grantStackUser,
  groupMessageShowing,
  notifyWithOslo,
  slackCallText,
  stackManagementApi,
} from '../support/oslo-notify.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys, startHarnessWarren } from '../support/warren-harness.js';

const KEYS = harnessKeys('rabbitmq-4.0-tap-oslo16');
const EXCHANGES = ['nova', 'openstack'] as const;

describe('the tap with oslo.messaging 16 in quorum mode on RabbitMQ 4.0', () => {
  const stack = inject('stack');
  const vhosts: string[] = [];
  let fake: FakeSlack;
  let warren: Warren | undefined;

  const api = stackManagementApi(stack);
  const read = async <T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> => {
    const response = await api('GET', path);
    return response.status === 404 ? undefined : schema.parse(await response.json());
  };

  const freshVhost = async (): Promise<string> => {
    const vhost = `oslo16-${randomUUID().slice(0, 8)}`;
    await api('PUT', `/vhosts/${vhost}`);
    await grantStackUser(api, stack, vhost);
    vhosts.push(vhost);
    return vhost;
  };

  /** oslo 16 in quorum mode publishing `count` notifications; fails with oslo's own output if any was not sent. */
  const notify = (vhost: string, exchange: string, host: string, eventType: string, count: number) =>
    notifyWithOslo(stack, vhost, count, [
      '--quorum',
      '--exchange',
      exchange,
      '--server',
      host,
      '--priority',
      'error',
      '--event-type',
      eventType,
      '--lock-path',
      osloLockPath(stack),
    ]);

  const start = (vhost: string, cluster: string, tap: string): Promise<Warren> =>
    startHarnessWarren({
      stack,
      fake,
      keyPrefix: KEYS,
      clustersInYaml: true,
      env: { TAP_TEST_PASSWORD: stack.password },
      yaml: `
clusters:
  - name: ${cluster}
    vhost: ${vhost}
    amqp: [${stack.nodes.map((n) => `"amqp://${stack.username}:\${TAP_TEST_PASSWORD}@127.0.0.1:${n.amqpPort}/${vhost}"`).join(', ')}]
    management: [${stack.nodes.map((n) => n.managementUrl).join(', ')}]
    managementUser: ${stack.username}
    managementPassword: \${TAP_TEST_PASSWORD}
${FAST_TAP_YAML}  bindings:
${EXCHANGES.map((e) => `    - {exchange: ${e}, routingKeys: [notifications.error]}`).join('\n')}
${tap}
`,
    });

  const states = () => (warren?.tap?.status()[0]?.bindings ?? []).map((b) => [b.exchange, b.state]);
  const allBound = () => states().every(([, state]) => state === 'bound') && states().length === EXCHANGES.length;
  const textOf = slackCallText;
  const posted = (host: string, count: number) => groupMessageShowing(fake, host, count);
  const exchangeFlags = (vhost: string, exchange: string) =>
    read(`/exchanges/${vhost}/${exchange}`, z.looseObject({ durable: z.boolean(), auto_delete: z.boolean() }));

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    for (const vhost of vhosts) await api('DELETE', `/vhosts/${vhost}`);
    await flushHarnessRedis(stack, KEYS);
  });

  it('binds the durable exchanges oslo declares in quorum mode with the default config, and posts their errors', async () => {
    const vhost = await freshVhost();
    warren = await start(vhost, 'quorum', '');
    await waitUntil(
      () => states().every(([, state]) => state === 'waiting_for_exchange') && states().length === 2,
      'both bindings to wait for oslo to declare the exchanges',
    );
    // oslo declares the exchange on its first publish; what it publishes before warren is bound only reaches
    // oslo's own `notifications.error` queue.
    for (const exchange of EXCHANGES) await notify(vhost, exchange, 'prime-1', 'compute.instance.prime.error', 1);
    for (const exchange of EXCHANGES) {
      expect(await exchangeFlags(vhost, exchange)).toMatchObject({ durable: true, auto_delete: false });
    }
    await waitUntil(allBound, 'both exchanges to be bound');

    const hosts = EXCHANGES.map((e) => `${e}-cmp-${randomUUID().slice(0, 6)}`);
    await notify(vhost, 'nova', hosts[0] as string, 'compute.instance.create.error', 3);
    await notify(vhost, 'openstack', hosts[1] as string, 'volume.attach.error', 3);
    const nova = await posted(hosts[0] as string, 3);
    expect(textOf(nova)).toContain('compute.instance.create.error');
    const cinder = await posted(hosts[1] as string, 3);
    expect(textOf(cinder)).toContain('volume.attach.error');
    expect(nova.params.channel).toBe('C0ALERTS');
    await warren.stop();
    warren = undefined;
  });

  it('with declareExchanges, binds an exchange oslo declared durable as it is, and oslo keeps publishing', async () => {
    const vhost = await freshVhost();
    for (const exchange of EXCHANGES) await notify(vhost, exchange, 'prime-2', 'compute.instance.prime.error', 1);
    // tap.exchangeDurable stays false (oslo's default amqp_durable_queues): declaring would fail with 406.
    warren = await start(vhost, 'declaring', '  declareExchanges: true');
    await waitUntil(allBound, 'both durable exchanges to be bound, not refused');
    for (const exchange of EXCHANGES) {
      expect(await exchangeFlags(vhost, exchange)).toMatchObject({ durable: true, auto_delete: false });
    }
    const host = `declared-${randomUUID().slice(0, 6)}`;
    await notify(vhost, 'nova', host, 'compute.instance.create.error', 2);
    await posted(host, 2);
    await warren.stop();
    warren = undefined;
  });

  it('in durable mode keeps what oslo publishes while warren is down in a quorum queue, and posts it after', async () => {
    const vhost = await freshVhost();
    for (const exchange of EXCHANGES) await notify(vhost, exchange, 'prime-3', 'compute.instance.prime.error', 1);
    const cluster = `durable${randomUUID().slice(0, 6)}`;
    const queueName = `warren.tap.${cluster}`;
    const queue = z.looseObject({
      type: z.string(),
      messages: z.number().nullish(),
      delivery_limit: z.number().nullish(),
    });
    warren = await start(vhost, cluster, '  mode: durable');
    await waitUntil(allBound, 'both exchanges bound to the durable queue');
    // The management API adds a new queue's delivery_limit with its first stats, a few seconds after it is listed.
    const declared = await waitUntil(async () => {
      const q = await read(`/queues/${vhost}/${queueName}`, queue);
      return typeof q?.delivery_limit === 'number' ? q : undefined;
    }, 'the durable queue listed with its delivery limit');
    // RabbitMQ 4.0 limits every quorum queue to 20 deliveries of a message unless a policy says otherwise; the tap
    // never requeues, so only 20 lost connections with the same message unacknowledged could reach it.
    expect(declared).toMatchObject({ type: 'quorum', delivery_limit: 20 });
    await warren.stop();
    warren = undefined;

    const host = `while-down-${randomUUID().slice(0, 6)}`;
    await notify(vhost, 'nova', host, 'compute.instance.create.error', 2);
    await notify(vhost, 'openstack', host, 'compute.instance.create.error', 1);
    await waitUntil(
      async () => ((await read(`/queues/${vhost}/${queueName}`, queue))?.messages ?? 0) >= 3,
      'the three events to wait in the durable queue',
    );
    warren = await start(vhost, cluster, '  mode: durable');
    await posted(host, 3);
    await waitUntil(
      async () => (await read(`/queues/${vhost}/${queueName}`, queue))?.messages === 0,
      'the durable queue to be drained and acked',
    );
  });
});
