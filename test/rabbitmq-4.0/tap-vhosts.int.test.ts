/**
 * The tap in one vhost per service, on the real cluster with real oslo.messaging notifiers: `tap.vhostPerService`
 * with a vhost pattern of this run's own (`/nova-<id>`, as openstack-ansible names them with a run suffix) binds nova
 * and neutron each in its own vhost over a connection of its own, and both services' errors reach the fake Slack,
 * each message naming its vhost. cinder's vhost does not exist at first, and glance's gives warren's user no
 * permission: each is logged, counted and shown refused for its reason while the other two keep working; once the
 * vhost is created, or the permission granted, the tap binds there too, without a restart. In durable mode each
 * vhost has its own `warren.tap.<cluster>` quorum queue, which keeps what both services publish while warren is down.
 *
 * Under rabbitmq-4.0/ because the real oslo notifier comes with the 4.0 stack's trixie root (oslo.messaging 16);
 * the tap's vhost handling is the same on 3.10 (the unit tests and the single-vhost tap tests run there).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { TapStatus } from '../../src/tap/notification-tap.js';
import type { Warren } from '../../src/warren.js';
import { FakeSlack } from '../support/fake-slack.js';
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

const KEYS = harnessKeys('rabbitmq-4.0-tap-vhosts');
/** A channel limited to the neutron vhost (access.vhostScopes). */
const TEAM = 'C0NEUTRON';

describe('the tap with a vhost per service', () => {
  const stack = inject('stack');
  const run = randomUUID().slice(0, 8);
  const vhostOf = (service: string) => `/${service}-${run}`;
  const created: string[] = [];
  const logLines: string[] = [];
  let fake: FakeSlack;
  let warren: Warren | undefined;

  const api = stackManagementApi(stack);
  const createVhost = async (vhost: string) => {
    await api('PUT', `/vhosts/${encodeURIComponent(vhost)}`);
    created.push(vhost);
  };
  const grant = (vhost: string) => grantStackUser(api, stack, vhost);
  const notify = (vhost: string, exchange: string, host: string, eventType: string, count: number) =>
    notifyWithOslo(stack, vhost, count, ['--exchange', exchange, '--server', host, '--event-type', eventType]);

  const start = (tap: string): Promise<Warren> =>
    startHarnessWarren({
      stack,
      fake,
      keyPrefix: KEYS,
      onLogLine: (line) => logLines.push(line),
      yaml: `
${FAST_TAP_YAML}${tap}
`,
    });
  /** Messages waiting in the tap's durable queue of `vhost` (the harness's cluster is `default`). */
  const durableDepth = async (vhost: string) => {
    const response = await api('GET', `/queues/${encodeURIComponent(vhost)}/warren.tap.default`);
    if (response.status === 404) return undefined;
    return z.looseObject({ messages: z.number().nullish() }).parse(await response.json()).messages ?? 0;
  };
  const tapOf = (vhost: string): TapStatus | undefined => warren?.tap?.status().find((s) => s.vhost === vhost);
  const bound = (vhost: string) => {
    const tap = tapOf(vhost);
    return tap?.connected === true && tap.bindings.every((b) => b.state === 'bound');
  };
  /** The message's Vhost field naming `vhost` (its newline escaped once or twice, as the blocks were sent). */
  const vhostField = (vhost: string) => new RegExp(`\\*Vhost\\*(\\\\)+n\`${vhost}\``);
  const textOf = slackCallText;
  const posted = (host: string, count: number) => groupMessageShowing(fake, host, count);
  const refusedCount = async (vhost: string, reason: string) => {
    const metric = await warren?.metrics.registry.getSingleMetric('warren_tap_vhost_refused_total')?.get();
    return (metric?.values ?? [])
      .filter((v) => v.labels.vhost === vhost && v.labels.reason === reason)
      .reduce((sum, v) => sum + v.value, 0);
  };

  beforeAll(async () => {
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    for (const service of ['nova', 'neutron']) {
      await createVhost(vhostOf(service));
      await grant(vhostOf(service));
    }
    // Creating a vhost through the management API gives its creator (the stack's one user) every permission there.
    await createVhost(vhostOf('glance'));
    await api('DELETE', `/permissions/${encodeURIComponent(vhostOf('glance'))}/${encodeURIComponent(stack.username)}`);
    // The neutron team's channel sees its own vhost only: its catch-all route carries no nova error.
    warren = await start(`  vhostPerService: {services: [nova, neutron, cinder, glance], vhost: "/{service}-${run}"}
  routes:
    - {name: neutron-team, match: {priority: [ERROR]}, channel: ${TEAM}, continue: true}
    - {name: errors, match: {priority: [ERROR, CRITICAL]}}
access:
  vhostScopes:
    - {channels: [${TEAM}], vhosts: ["${vhostOf('neutron')}"]}`);
  });

  afterAll(async () => {
    await warren?.stop();
    await fake?.stop();
    for (const vhost of created) await api('DELETE', `/vhosts/${encodeURIComponent(vhost)}`);
    await flushHarnessRedis(stack, KEYS);
  });

  it('listens in each service vhost over its own connection and posts both services’ errors, naming the vhost', async () => {
    expect(warren?.tap?.status().map((s) => [s.vhost, s.bindings.map((b) => b.exchange)])).toEqual([
      [vhostOf('nova'), ['nova']],
      [vhostOf('neutron'), ['neutron']],
      [vhostOf('cinder'), ['openstack']],
      [vhostOf('glance'), ['glance']],
    ]);
    // oslo declares its exchange on its first publish; what it publishes before warren is bound is not seen.
    await notify(vhostOf('nova'), 'nova', 'prime-1', 'compute.instance.prime.error', 1);
    await notify(vhostOf('neutron'), 'neutron', 'prime-1', 'port.prime.error', 1);
    await waitUntil(() => bound(vhostOf('nova')) && bound(vhostOf('neutron')), 'nova and neutron bound');
    expect(tapOf(vhostOf('nova'))?.node).not.toBeUndefined();

    const novaHost = `cmp-${run}`;
    const neutronHost = `net-${run}`;
    await notify(vhostOf('nova'), 'nova', novaHost, 'compute.instance.create.error', 3);
    await notify(vhostOf('neutron'), 'neutron', neutronHost, 'port.create.error', 2);
    const nova = await posted(novaHost, 3);
    const neutron = await posted(neutronHost, 2);
    expect(textOf(nova)).toContain('compute.instance.create.error');
    expect(textOf(nova)).toMatch(vhostField(vhostOf('nova')));
    expect(textOf(neutron)).toContain('port.create.error');
    expect(textOf(neutron)).toMatch(vhostField(vhostOf('neutron')));
    // The same event type in another vhost is another group: nothing of nova's reached neutron's message.
    expect(textOf(neutron)).not.toContain(novaHost);
    // The samples in the thread say where each came from.
    await waitUntil(
      () =>
        fake
          .callsTo('chat.postMessage')
          .some(
            (c) =>
              c.params.thread_ts !== undefined && String(c.params.text).includes(`in vhost \`${vhostOf('neutron')}\``),
          ),
      'a thread sample naming the neutron vhost',
    );
    // The neutron team's channel got neutron's error, and nothing of nova's, which went on to the next route.
    const team = await fake.waitForCall(
      'chat.postMessage',
      (c) => c.params.channel === TEAM && !c.params.thread_ts && textOf(c).includes(neutronHost),
    );
    expect(textOf(team)).toMatch(vhostField(vhostOf('neutron')));
    expect(
      fake.callsTo('chat.postMessage').filter((c) => c.params.channel === TEAM && textOf(c).includes(novaHost)),
    ).toEqual([]);
    expect(
      fake
        .callsTo('chat.postMessage')
        .filter((c) => c.params.channel === TEAM && textOf(c).includes('compute.instance')),
    ).toEqual([]);
  });

  it('shows a missing vhost and one without permission refused, logged once and counted, while the other vhosts keep working', async () => {
    const cinder = vhostOf('cinder');
    const refused = await waitUntil(() => tapOf(cinder)?.refused, 'the cinder vhost to be refused');
    expect(refused).toEqual({ reason: 'vhost_not_found', error: expect.stringContaining('not found') });
    expect(tapOf(cinder)?.connected).toBe(false);
    // Tried again every tap.exchangeRetry, counted each time, said once.
    await waitUntil(async () => (await refusedCount(cinder, 'vhost_not_found')) >= 3, 'three refused attempts');
    const said = logLines.filter((l) => l.includes(`tap vhost ${cinder} does not exist`));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0] as string)).toMatchObject({ level: 'error', vhost: cinder, reason: 'vhost_not_found' });

    // The other vhosts are untouched by it: a new error in nova still arrives.
    const host = `cmp2-${run}`;
    await notify(vhostOf('nova'), 'nova', host, 'compute.instance.delete.error', 1);
    await posted(host, 1);

    // glance's vhost exists, without a permission for warren's user: refused for that reason.
    const glance = vhostOf('glance');
    expect(await waitUntil(() => tapOf(glance)?.refused, 'the glance vhost to be refused')).toEqual({
      reason: 'vhost_access_refused',
      error: expect.stringContaining('refused'),
    });
    expect(logLines.filter((l) => l.includes(`tap user may not use vhost ${glance}`))).toHaveLength(1);
    await grant(glance);
    await waitUntil(() => tapOf(glance)?.connected === true && tapOf(glance)?.refused === undefined, 'glance accepted');

    // cinder's vhost created: the tap connects and waits for oslo's `openstack` exchange there, then cinder's errors
    // arrive.
    await createVhost(cinder);
    await grant(cinder);
    await waitUntil(() => tapOf(cinder)?.connected === true && tapOf(cinder)?.refused === undefined, 'cinder accepted');
    await notify(cinder, 'openstack', 'prime-2', 'volume.prime.error', 1);
    await waitUntil(() => bound(cinder), 'cinder bound');
    const volumeHost = `vol-${run}`;
    await notify(cinder, 'openstack', volumeHost, 'volume.attach.error', 2);
    expect(textOf(await posted(volumeHost, 2))).toContain(`\`${cinder}\``);
  });

  it('in durable mode keeps a queue in each vhost, holding what both services publish while warren is down', async () => {
    await warren?.stop();
    warren = undefined;
    const vhostsDurable = ['nova', 'neutron'].map((service) => `/${service}-d-${run}`);
    for (const vhost of vhostsDurable) {
      await createVhost(vhost);
      await grant(vhost);
    }
    const [novaVhost, neutronVhost] = vhostsDurable as [string, string];
    await notify(novaVhost, 'nova', 'prime-3', 'compute.instance.prime.error', 1);
    await notify(neutronVhost, 'neutron', 'prime-3', 'port.prime.error', 1);
    const durable = `  mode: durable\n  vhostPerService: {services: [nova, neutron], vhost: "/{service}-d-${run}"}`;
    warren = await start(durable);
    await waitUntil(() => bound(novaVhost) && bound(neutronVhost), 'both vhosts bound to their durable queues');
    expect(tapOf(novaVhost)?.bindings[0]?.queue).toBe('warren.tap.default');
    await warren.stop();
    warren = undefined;

    const novaHost = `cmp-d-${run}`;
    const neutronHost = `net-d-${run}`;
    await notify(novaVhost, 'nova', novaHost, 'compute.instance.create.error', 2);
    await notify(neutronVhost, 'neutron', neutronHost, 'port.create.error', 2);
    await waitUntil(
      async () => (await durableDepth(novaVhost)) === 2 && (await durableDepth(neutronVhost)) === 2,
      'two events waiting in each vhost’s durable queue',
    );
    warren = await start(durable);
    expect(textOf(await posted(novaHost, 2))).toMatch(vhostField(novaVhost));
    expect(textOf(await posted(neutronHost, 2))).toMatch(vhostField(neutronVhost));
    await waitUntil(
      async () => (await durableDepth(novaVhost)) === 0 && (await durableDepth(neutronVhost)) === 0,
      'both durable queues drained and acked',
    );
  });
});
