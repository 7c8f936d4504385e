/**
 * The read-only listings end to end: a real warren, driven by signed slash commands through the real Bolt receiver
 * and a fake Slack, answers `queues`, `connections`, `consumers`, `partitions`, `policies`, `exchanges` and
 * `bindings` about the local 3-node cluster, where this file creates three queues, a topic exchange routing to one,
 * an exchange named like a queue (as oslo's reply queues are), a policy, and an "OpenStack" connection holding 5
 * channels.
 * The cluster is shared with other test files, so every assertion looks only at what this file created. Management
 * statistics lag by a few seconds, so answers that depend on them are asked until they show the new state.
 */
import { randomUUID } from 'node:crypto';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { attachLocalStack, managementAuthorization } from '../../src/devstack/index.js';
import type { Warren } from '../../src/warren.js';
import { askUntil as askUntilReady } from '../support/ask-until.js';
import { restoreCluster } from '../support/cluster-health.js';
import { FakeSlack } from '../support/fake-slack.js';
import { flushHarnessRedis, harnessKeys, slash, startHarnessWarren } from '../support/warren-harness.js';

const YAML = `
tap:
  enabled: false
health:
  enabled: false
`;

const KEYS = harnessKeys('commands-read-commands');
const STATS_WAIT_MS = 45_000;

describe('read-only listings on the real cluster', () => {
  const stack = inject('stack');
  const id = randomUUID().slice(0, 8);
  const prefix = `warren-read-${id}`;
  const backlog = `${prefix}-backlog`;
  const consumed = `${prefix}-consumed`;
  const idle = `${prefix}-idle`;
  const policy = `${prefix}-limit`;
  const topic = `${prefix}-topic`;
  const pid = 1234;
  let fake: FakeSlack;
  let warren: Warren;
  let admin: ChannelModel;
  let nova: ChannelModel;
  const answers: Record<string, unknown>[] = [];

  const management = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.nodes[0]?.managementUrl}${path}`, {
      ...init,
      headers: {
        authorization: managementAuthorization(stack),
        'content-type': 'application/json',
      },
    });

  async function ask(text: string): Promise<{ text: string; response_type: unknown; blocks: unknown }> {
    const answer = await slash(warren, fake, 'U0BOB', text);
    answers.push(answer);
    return answer as { text: string; response_type: unknown; blocks: unknown };
  }

  /** What the listings show comes from statistics the broker emits every few seconds. */
  const askUntil = (text: string, ready: (answer: string) => boolean, what: string) =>
    askUntilReady(async (t) => (await ask(t)).text, text, ready, what, STATS_WAIT_MS);

  const lineOf = (text: string, needle: string) => text.split('\n').find((l) => l.includes(needle));

  beforeAll(async () => {
    await restoreCluster(stack, attachLocalStack(stack));
    await flushHarnessRedis(stack, KEYS);
    fake = await FakeSlack.start();
    admin = await connect(stack.nodes[0]?.amqpUrl as string);
    const setup = await admin.createConfirmChannel();
    for (const queue of [backlog, consumed, idle]) await setup.assertQueue(queue, { durable: false });
    await setup.assertExchange(topic, 'topic', { durable: false });
    await setup.bindQueue(backlog, topic, 'compute.*');
    // As oslo's reply queues: a direct exchange with the queue's own name, bound to it.
    await setup.assertExchange(idle, 'direct', { durable: false, autoDelete: true });
    await setup.bindQueue(idle, idle, idle);
    for (let i = 0; i < 30; i++) setup.sendToQueue(backlog, Buffer.from(`m${i}`));
    await setup.waitForConfirms();
    await setup.close();
    // What oslo.messaging would open: a named connection, here holding 5 channels, one of them consuming.
    nova = await connect(stack.nodes[0]?.amqpUrl as string, {
      clientProperties: { connection_name: `nova-compute:${pid}:${randomUUID()}` },
    });
    const channels = await Promise.all(Array.from({ length: 5 }, () => nova.createChannel()));
    const consumer = channels[0];
    await consumer?.prefetch(7);
    await consumer?.consume(consumed, () => undefined, { noAck: false });
    // Priority 100 so that no broader policy another test file may set takes these queues from it.
    const put = await management(`/api/policies/%2F/${policy}`, {
      method: 'PUT',
      body: JSON.stringify({
        pattern: `^${prefix}-`,
        definition: { 'max-length': 1000 },
        'apply-to': 'queues',
        priority: 100,
      }),
    });
    expect(put.status).toBeLessThan(300);
    warren = await startHarnessWarren({ stack, fake, yaml: YAML, keyPrefix: KEYS });
  });

  afterAll(async () => {
    await warren?.stop();
    await management(`/api/policies/%2F/${policy}`, { method: 'DELETE' }).catch(() => undefined);
    await nova?.close().catch(() => undefined);
    const cleanup = await admin?.createChannel();
    for (const queue of [backlog, consumed, idle]) await cleanup?.deleteQueue(queue);
    for (const exchange of [topic, idle]) await cleanup?.deleteExchange(exchange);
    await admin?.close();
    await fake?.stop();
  });

  it('lists the queues matching a glob, biggest backlog first, with their consumers', async () => {
    const text = await askUntil(
      `queues ${prefix}-*`,
      (t) => (lineOf(t, backlog)?.includes('30 ready') && lineOf(t, consumed)?.includes('1 consumer')) === true,
      'the backlog and the consumer in the queue listing',
    );
    const firstNode = stack.nodes[0]?.name;
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^\\*Queues on \`default\`\\*: 3 of [\\d,]+ match \`${prefix}-\\*\`, by messages$`),
    );
    expect(lines.slice(1)).toEqual([
      `\`${backlog}\` · classic · 30 ready, 0 unacked · 0 consumers · \`${firstNode}\``,
      `\`${consumed}\` · classic · 0 ready, 0 unacked · 1 consumer · \`${firstNode}\``,
      `\`${idle}\` · classic · 0 ready, 0 unacked · 0 consumers · \`${firstNode}\``,
    ]);
    const top = await ask(`queues --sort consumers --limit 1 --cluster default ${prefix}-*`);
    expect(top.response_type).toBe('ephemeral');
    expect(top.text.split('\n')).toEqual([
      expect.stringMatching(/: 3 of [\d,]+ match .*, by consumers; 1 shown, 2 left out \(`--limit` up to 200\)$/),
      expect.stringContaining(`\`${consumed}\``),
    ]);
  });

  it('names the OpenStack connection and its channels, alone and added up by service and host', async () => {
    const text = await askUntil(
      'connections --limit 200',
      (t) => lineOf(t, `pid ${pid},`)?.startsWith('*5 channels*') === true,
      'the nova-compute connection with 5 channels',
    );
    expect(lineOf(text, `pid ${pid},`)).toMatch(
      new RegExp(
        `^\\*5 channels\\* · \`nova-compute\` on \`127\\.0\\.0\\.1\`, pid ${pid}, user \`${stack.username}\`, ` +
          'connection `127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:\\d+` · heartbeat \\d+s · running$',
      ),
    );
    const grouped = await ask('connections --by service --limit 200');
    expect(grouped.text.split('\n')[0]).toMatch(
      /^\*Connections on `default`\*: [\d,]+ by service and host, in \d+ group\(s\)/,
    );
    // Other test files may hold nova-compute connections too: this group holds at least ours.
    const group = lineOf(grouped.text, '`nova-compute` on `127.0.0.1`');
    const [, channels] = /^\*(\d+) channels\*/.exec(group ?? '') ?? [];
    expect(Number(channels)).toBeGreaterThanOrEqual(5);
  });

  it("shows a queue's consumer with its process, prefetch and ack mode, and names an unknown queue", async () => {
    const text = await askUntil(
      `consumers ${consumed}`,
      (t) => t.includes('prefetch 7'),
      'the consumer details in the statistics',
    );
    expect(text.split('\n')).toEqual([
      `*1 consumer* of \`${consumed}\` (vhost \`/\`) on \`default\` · 0 ready, 0 unacked`,
      expect.stringMatching(
        new RegExp(
          `^\`nova-compute\` on \`127\\.0\\.0\\.1\`, pid ${pid}, user \`${stack.username}\` · ` +
            'channel `127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:\\d+ \\(\\d\\)` · prefetch 7 · manual ack$',
        ),
      ),
    ]);
    // The management API counts the backlog's messages a few seconds late.
    const none = { text: await askUntil(`consumers ${backlog}`, (t) => t.includes('30 ready'), 'the backlog counted') };
    expect(none.text).toBe(`*No consumers* of \`${backlog}\` (vhost \`/\`) on \`default\` · 30 ready, 0 unacked`);
    const unknown = await ask(`consumers ${prefix}-nope --vhost /`);
    expect(unknown.response_type).toBe('ephemeral');
    expect(unknown.text).toMatch(new RegExp(`^No queue \`${prefix}-nope\` in vhost \`/\` of \`default\`\\. `));
    const noVhost = await ask(`consumers ${consumed} --vhost nowhere`);
    expect(noVhost.text).toMatch(new RegExp(`^No queue \`${consumed}\` in vhost \`nowhere\` of \`default\`\\. `));
  });

  it('says there is no partition and counts client connections per node', async () => {
    const { text } = await ask('partitions');
    const lines = text.split('\n');
    const nodes = stack.nodes.length;
    // Mnesia on both series: 3.10 has no Khepri, and the 4.0 stack leaves the khepri_db flag disabled.
    expect(lines[0]).toBe(
      `*Partitions of \`default\`*: :large_green_circle: No partitions · ${nodes}/${nodes} nodes running · ` +
        'metadata store Mnesia',
    );
    expect(lines.slice(1).map((l) => /`([A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+)`/.exec(l)?.[1])).toEqual(
      stack.nodes.map((n) => n.name).sort(),
    );
    // This file's two connections are on the first node.
    const [, first] = /(\d+) client connections?/.exec(lineOf(text, stack.nodes[0]?.name as string) ?? '') ?? [];
    expect(Number(first)).toBeGreaterThanOrEqual(2);
  });

  it("shows each node's RabbitMQ and Erlang version and the metadata store", async () => {
    const { text } = await ask('status');
    const series = stack.rabbitmq.series.replace('.', '\\.');
    expect(text).toMatch(new RegExp(`\nRabbitMQ ${series}\\.\\d+, metadata store Mnesia\n`));
    const nodeLines = text.split('\n').filter((l) => l.startsWith(':large_green_circle: `'));
    expect(nodeLines).toHaveLength(stack.nodes.length);
    for (const line of nodeLines) expect(line).toMatch(new RegExp(` · RabbitMQ ${series}\\.\\d+ · Erlang [\\d.]+$`));
  });

  it('lists the policy with the number of queues it governs', async () => {
    const text = await askUntil(
      'policies',
      (t) => lineOf(t, `\`${policy}\``)?.endsWith('*3 queues*') === true,
      'the policy in effect on the three queues',
    );
    expect(lineOf(text, `\`${policy}\``)).toBe(
      `\`${policy}\` (vhost \`/\`) · pattern \`^${prefix}-\` · applies to queues · priority 100 · \`max-length=1000\` · *3 queues*`,
    );
  });

  it('lists exchanges with their type and flags, in every vhost or one', async () => {
    const { text } = await ask(`exchanges ${prefix}-*`);
    expect(text.split('\n')).toEqual([
      '*Exchanges on `default`*: 2 match `' + prefix + '-*`, by name',
      `\`${idle}\` · direct · transient · auto-delete`,
      `\`${topic}\` · topic · transient`,
    ]);
    const builtIn = await ask('exchanges --vhost / amq.*');
    expect(builtIn.text.split('\n')).toContain('`amq.topic` · topic · durable');
    expect((await ask('exchanges --vhost nowhere')).text).toBe(
      '*Exchanges on `default`* in vhost `nowhere`: no such vhost',
    );
    expect((await ask(`queues --vhost / ${prefix}-*`)).text.split('\n')[0]).toMatch(
      /^\*Queues on `default`\* in vhost `\/`: 3 of [\d,]+ match/,
    );
  });

  it("shows a queue's bindings, and both sides of a name that is a queue and an exchange", async () => {
    const { text } = await ask(`bindings ${backlog}`);
    expect(text.split('\n')).toEqual([
      `*Bindings of queue \`${backlog}\`* (vhost \`/\`) on \`default\`: 2 routing into it`,
      `from _the default exchange_ · key \`${backlog}\` (implicit: every queue has it)`,
      `from exchange \`${topic}\` · key \`compute.*\``,
    ]);
    const both = await ask(`bindings ${idle}`);
    expect(both.text.split('\n')).toEqual([
      `*Bindings of queue \`${idle}\`* (vhost \`/\`) on \`default\`: 2 routing into it · \`${idle}\` is both a queue ` +
        'and an exchange: both shown, `--queue` or `--exchange` for one',
      `from _the default exchange_ · key \`${idle}\` (implicit: every queue has it)`,
      `from exchange \`${idle}\` · key \`${idle}\``,
      '',
      `*Bindings of exchange \`${idle}\`* (vhost \`/\`) on \`default\`: 1 out, 0 in from other exchanges`,
      `to queue \`${idle}\` · key \`${idle}\``,
    ]);
    const exchangeOnly = await ask(`bindings ${topic} --exchange`);
    expect(exchangeOnly.text.split('\n')).toEqual([
      `*Bindings of exchange \`${topic}\`* (vhost \`/\`) on \`default\`: 1 out, 0 in from other exchanges`,
      `to queue \`${backlog}\` · key \`compute.*\``,
    ]);
    const none = await ask(`bindings ${topic} --queue`);
    expect(none.response_type).toBe('ephemeral');
    expect(none.text).toMatch(new RegExp(`^No queue \`${topic}\` in vhost \`/\` of \`default\`\\. `));
  });

  it('counts the definitions and lists what changed since the previous call, names only', async () => {
    const first = await ask('definitions');
    expect(first.text.split('\n')[0]).toMatch(
      /^\*Definitions of `default`\*: [\d,]+ vhosts · [\d,]+ users · [\d,]+ permissions · .* · [\d,]+ queues · [\d,]+ bindings$/,
    );
    const added = `${prefix}-defined`;
    const ch = await admin.createChannel();
    await ch.assertQueue(added, { durable: true });
    try {
      const second = await ask('definitions');
      expect(second.text).toMatch(new RegExp(`\n\\*queues\\* added \\(\\d+\\): .*\`//${added}\``));
      expect(JSON.stringify([first, second])).not.toMatch(/password_hash|hashing_algorithm/);
    } finally {
      await ch.deleteQueue(added);
      await ch.close();
    }
  });

  it('refuses bad arguments and unknown clusters with the usage line, and never shows the password', async () => {
    expect((await ask('queues --limit 0')).text).toBe(
      '--limit is at least 1\nUsage: `/rabbit queues [--sort messages|consumers|name] [--limit N] [--vhost V] [--cluster NAME] [pattern]`',
    );
    expect((await ask('connections --by host')).text).toBe(
      '--by takes only service\nUsage: `/rabbit connections [--sort channels|name] [--by service] [--limit N] [--vhost V] [--cluster NAME]`',
    );
    expect((await ask('consumers')).text).toBe(
      'consumers takes one queue name (quote it if it has spaces)\nUsage: `/rabbit consumers <queue> [--vhost V] [--cluster NAME]`',
    );
    expect((await ask('partitions --cluster staging')).text).toBe(
      'unknown cluster "staging"; known clusters: default\nUsage: `/rabbit partitions [--cluster NAME]`',
    );
    expect(JSON.stringify(answers)).not.toContain(stack.password);
  });
});
