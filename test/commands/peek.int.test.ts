/**
 * `/rabbit peek` end to end on the real local cluster, through a real warren, the real Bolt receiver and a fake
 * Slack: real oslo notifications (the recorded wire bodies of test/fixtures/oslo) and an RPC call, carrying a token
 * in their request context and a password in their payload, are peeked, decoded and masked; afterwards the queue
 * holds the same messages in the same order, the peeked ones marked redelivered. Streams and quorum queues with a
 * tiny delivery limit are refused without being touched, and only operators may peek.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachLocalStack } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack } from '../support/fake-slack.js';
import { osloMessage } from '../support/oslo-publisher.js';
import { waitUntil } from '../support/wait-until.js';
import { flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const OPERATOR = 'U0PEEKOPS';
const READER = 'U0PEEKREAD';
const YAML = `
tap:
  enabled: false
health:
  enabled: false
access:
  readers: [${READER}]
  operators: [${OPERATOR}]
`;
const KEYS = harnessKeys('commands-peek');
const SECRET = `peek-int-${randomUUID()}`;

describe('/rabbit peek on the real cluster', () => {
  const stack = inject('stack');
  const prefix = `warren-peek-${randomUUID().slice(0, 8)}`;
  const notifications = `${prefix}.notifications.error`;
  const rpc = `${prefix}.compute`;
  const limited = `${prefix}.limited`;
  const stream = `${prefix}.fanout`;
  let fake: FakeSlack;
  let warren: Warren;
  let amqp: ChannelModel;
  let ch: ConfirmChannel;
  const published: string[] = [];

  const ask = async (text: string, user = OPERATOR) =>
    (await slash(warren, fake, user, text)) as { text: string; response_type: unknown };

  /** Ready messages as the queue process counts them (not the management statistics, which lag). */
  const ready = async (queue: string) => (await ch.checkQueue(queue)).messageCount;

  beforeAll(async () => {
    await restoreCluster(stack, attachLocalStack(stack));
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    amqp = await connect(stack.nodes[0]?.amqpUrl as string);
    ch = await amqp.createConfirmChannel();
    await ch.assertQueue(notifications, { durable: false });
    await ch.assertQueue(rpc, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.assertQueue(limited, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2 } });
    await ch.assertQueue(stream, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    for (const file of [
      'nova-versioned-instance.create.error.v2.json',
      'cinder-volume.attach.error.v1.json',
      'nova-legacy-compute.instance.create.error.v2.json',
      'glance-image.activate.v2.json',
    ]) {
      const message = osloMessage(file, (m) => {
        m._context_auth_token = SECRET;
        m.payload = { admin_password: SECRET, ...(m.payload as object) };
      });
      published.push(message.messageId);
      ch.sendToQueue(notifications, message.body, { contentType: 'application/json' });
    }
    const call = (n: number) => ({
      'oslo.version': '2.0',
      'oslo.message': JSON.stringify({
        method: 'build_and_run_instance',
        args: { n, admin_password: SECRET },
        version: '6.0',
        _msg_id: `msg-${n}`,
        _reply_q: `reply_${prefix}`,
        _unique_id: `u-${n}`,
        _context_request_id: `req-${n}`,
        _context_auth_token: SECRET,
      }),
    });
    for (const n of [1, 2]) ch.sendToQueue(rpc, Buffer.from(JSON.stringify(call(n))), { messageId: `m${n}` });
    ch.sendToQueue(limited, Buffer.from(JSON.stringify(call(3))));
    await ch.waitForConfirms();
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    for (const queue of [notifications, rpc, limited, stream]) await ch?.deleteQueue(queue).catch(() => undefined);
    await amqp?.close().catch(() => undefined);
    await fake?.stop();
  });

  it('shows the first messages decoded and masked, and leaves the queue as it was, in order', async () => {
    const reply = await ask(`peek ${notifications} 3`);
    expect(reply.response_type).toBe('ephemeral');
    const lines = reply.text.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\*Peek at \`${notifications.replace(/\./g, '\\.')}\` \\(vhost \`/\`\\) on \`default\`\\* · classic · ` +
          'the first 3 of [\\d,]+ ready · requeued in place, now marked redelivered$',
      ),
    );
    const described = lines.filter((l) => /^(notification|RPC|JSON)/.test(l));
    expect(described).toEqual([
      expect.stringMatching(/^notification `instance\.create\.error` · ERROR · from `nova-compute:.*oslo v2 envelope$/),
      expect.stringMatching(/^notification `volume\.attach\.error` · ERROR · .* · no envelope$/),
      expect.stringMatching(/^notification `compute\.instance\.create\.error` · ERROR · .*oslo v2 envelope$/),
    ]);
    const payloads = lines.filter((l) => l.startsWith('```'));
    expect(payloads).toHaveLength(3);
    for (const payload of payloads) expect(payload.startsWith('```{"admin_password":"***",')).toBe(true);
    expect(reply.text).not.toContain(SECRET);

    // The broker requeues when the peek's channel closes; then the queue holds all four again, in order.
    await waitUntil(async () => (await ready(notifications)) === 4, 'the peeked messages back in the queue');
    const after: { id: unknown; redelivered: boolean }[] = [];
    for (;;) {
      const message = await ch.get(notifications, { noAck: true });
      if (!message) break;
      const body = JSON.parse(message.content.toString()) as Record<string, unknown>;
      const inner = (typeof body['oslo.message'] === 'string' ? JSON.parse(body['oslo.message']) : body) as Record<
        string,
        unknown
      >;
      after.push({ id: inner.message_id, redelivered: message.fields.redelivered });
    }
    expect(after).toEqual(published.map((id, i) => ({ id, redelivered: i < 3 })));
  });

  it('shows an RPC call on a quorum queue and keeps its order', async () => {
    const reply = await ask(`peek ${rpc}`);
    const lines = reply.text.split('\n');
    expect(lines[0]).toContain(' · quorum · the first 2 of ');
    expect(lines.filter((l) => l.startsWith('RPC'))).toEqual([
      'RPC call `build_and_run_instance` · request `req-1` · oslo v2 envelope',
      'RPC call `build_and_run_instance` · request `req-2` · oslo v2 envelope',
    ]);
    expect(lines.filter((l) => l.startsWith('```'))).toEqual([
      '```{"n":1,"admin_password":"***"}```',
      '```{"n":2,"admin_password":"***"}```',
    ]);
    expect(reply.text).not.toContain(SECRET);
    await waitUntil(async () => (await ready(rpc)) === 2, 'the peeked RPC calls back in the quorum queue');
    const first = await ch.get(rpc, { noAck: true });
    const second = await ch.get(rpc, { noAck: true });
    expect([first ? first.properties.messageId : undefined, second ? second.properties.messageId : undefined]).toEqual([
      'm1',
      'm2',
    ]);
  });

  it('refuses a stream and a quorum queue with a tiny delivery limit, touching neither', async () => {
    const streamReply = await ask(`peek ${stream}`);
    expect(streamReply.text).toBe(
      `\`${stream}\` is a stream: streams cannot be read with basic.get, which is what a peek uses. ` +
        'Read it with a stream consumer and an `x-stream-offset` instead.',
    );
    const limitedReply = await ask(`peek ${limited} --vhost /`);
    expect(limitedReply.text).toBe(
      `Not peeking \`${limited}\`: it is a quorum queue with a delivery limit of 2, and every peek counts as one ` +
        'delivery attempt, so a few peeks would drop or dead-letter its messages.',
    );
    expect(await ready(limited)).toBe(1);
    const message = await ch.get(limited, { noAck: true });
    expect(message ? message.fields.redelivered : undefined).toBe(false);
  });

  it('is for operators only, answers bad arguments with the usage, and names a missing queue', async () => {
    const reader = await ask(`peek ${notifications}`, READER);
    expect(reader.text).toMatch(/^Not allowed: only operators \(access\.operators\) may run this/);
    expect((await ask(`peek ${notifications} 50`)).text).toBe(
      'N is a whole number from 1 to 20\nUsage: `/rabbit peek <queue> [N] [--vhost V] [--cluster NAME]`',
    );
    expect((await ask(`peek ${prefix}.nope`)).text).toBe(`No queue \`${prefix}.nope\` in vhost \`/\` of \`default\`.`);
    expect((await ask(`peek ${notifications} --vhost nowhere`)).text).toBe(
      `No queue \`${notifications}\` in vhost \`nowhere\` of \`default\`.`,
    );
  });
});
