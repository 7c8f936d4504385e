import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metadataStoreLabel, nodeProblems, renderClusterStatus, versionText } from '../../commands/status.js';
import { parseBrokerVersion } from '../../src/management/broker-version.js';
import { nodesSchema, overviewSchema } from '../../src/management/schemas.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/rabbitmq-3.10/${name}`, import.meta.url), 'utf8')) as unknown;

describe('status rendering', () => {
  const overview = overviewSchema.parse(fixture('overview-single.json'));
  const nodes = nodesSchema.parse(fixture('nodes-single.json'));

  it('renders a healthy node from a real 3.10 answer', () => {
    const { text, blocks } = renderClusterStatus({ cluster: 'local', overview, nodes });
    expect(text).toContain('1/1 nodes running, no partitions, no alarms');
    expect(text).toContain('RabbitMQ 3.10.8');
    expect(text).toContain(':large_green_circle: `rabbit1@localhost`');
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: expect.stringContaining('Cluster local') },
    });
  });

  it('flags partitions, alarms and stopped nodes', () => {
    const [node] = nodes;
    if (!node) throw new Error('fixture has no node');
    const broken = [
      { ...node, partitions: ['rabbit2@localhost'], mem_alarm: true },
      { name: 'rabbit3@localhost', running: false, partitions: [] },
    ];
    expect(nodeProblems(broken[0] as typeof node)).toEqual(['partitioned from rabbit2@localhost', 'memory alarm']);
    const { text } = renderClusterStatus({ cluster: 'local', overview, nodes: broken as typeof nodes });
    expect(text).toContain('1/2 nodes running, *network partition*, *alarms on 1 node(s)*');
    expect(text).toContain(':red_circle: `rabbit3@localhost` — *not running*');
  });
});

/** /api/nodes and /api/overview shaped as a real RabbitMQ 4.0.5 cluster (Erlang 27) answered them. */
describe('status on RabbitMQ 4.0', () => {
  const node = (name: string, version: string | undefined, extra: Record<string, unknown> = {}) => ({
    name,
    running: true,
    type: 'disc',
    partitions: [],
    mem_used: 150_000_000,
    mem_limit: 3_000_000_000,
    mem_alarm: false,
    disk_free_alarm: false,
    fd_used: 40,
    fd_total: 1_048_576,
    sockets_used: 0,
    proc_used: 600,
    proc_total: 1_048_576,
    uptime: 3_600_000,
    applications: [
      { name: 'kernel', description: 'ERTS  CXC 138 10', version: '10.2.7.1' },
      ...(version ? [{ name: 'rabbit', description: 'RabbitMQ', version }] : []),
    ],
    ...extra,
  });
  const overview = overviewSchema.parse({
    cluster_name: 'rabbit1@vm',
    rabbitmq_version: '4.0.5',
    erlang_version: '27.3.4.1',
    product_version: '4.0.5',
    object_totals: { connections: 6, channels: 6, exchanges: 12, queues: 13, consumers: 18 },
    queue_totals: { messages: 3025, messages_ready: 3025, messages_unacknowledged: 0 },
  });
  const nodes = nodesSchema.parse([node('rabbit1@n', '4.0.5'), node('rabbit2@n', '4.0.5'), node('rabbit3@n', '4.0.5')]);
  const erlangByNode = new Map([
    ['rabbit1@n', '27.3.4.1'],
    ['rabbit2@n', '27.3.4.1'],
  ]);

  it("shows each node's RabbitMQ and Erlang version and the metadata store, and nothing of mirrors", () => {
    const { text } = renderClusterStatus({ cluster: 'c', overview, nodes, erlangByNode, khepriFlag: 'disabled' });
    const lines = text.split('\n');
    expect(lines[2]).toBe('RabbitMQ 4.0.5, metadata store Mnesia');
    expect(lines[3]).toMatch(/^:large_green_circle: `rabbit1@n` — .* · RabbitMQ 4\.0\.5 · Erlang 27\.3\.4\.1$/);
    // No /api/overview answered for rabbit3: its Erlang is not guessed.
    expect(lines[5]).toMatch(/· RabbitMQ 4\.0\.5$/);
    expect(text).not.toMatch(/mirror|sockets/i);
  });

  it('says Khepri when the khepri_db flag is enabled or the version is 4.2 and later, and when it guessed', () => {
    const khepri = renderClusterStatus({ cluster: 'c', overview, nodes, khepriFlag: 'enabled' }).text;
    expect(khepri).toContain('RabbitMQ 4.0.5, Erlang 27.3.4.1, metadata store Khepri (Raft)');
    expect(metadataStoreLabel(parseBrokerVersion('4.2.1'), undefined)).toBe(
      'metadata store Khepri (Raft) (by version: the khepri_db flag could not be read)',
    );
    expect(metadataStoreLabel(parseBrokerVersion('4.0.5'), undefined)).toBe(
      'metadata store Mnesia (by version: the khepri_db flag could not be read)',
    );
    // 3.10 has no Khepri at all: no flag to read, nothing guessed.
    expect(metadataStoreLabel(parseBrokerVersion('3.10.8'), undefined)).toBe('metadata store Mnesia');
    expect(metadataStoreLabel(undefined, undefined)).toBeUndefined();
  });

  it('says so when the nodes run a mix of versions', () => {
    const mixed = nodesSchema.parse([
      node('rabbit1@n', '4.0.5'),
      node('rabbit2@n', '3.13.7'),
      node('rabbit3@n', '4.0.5'),
      { name: 'rabbit4@n', running: false },
    ]);
    const { text } = renderClusterStatus({ cluster: 'c', overview, nodes: mixed, khepriFlag: 'disabled' });
    expect(text).toContain(
      '*mixed versions:* RabbitMQ 3.13.7 on `rabbit2@n`; 4.0.5 on `rabbit1@n`, `rabbit3@n`, Erlang 27.3.4.1, metadata store Mnesia',
    );
    expect(versionText({ overview, nodes: [] })).toBe('RabbitMQ 4.0.5');
  });

  it('renders a node the API lists with nulls and little else', () => {
    const odd = nodesSchema.parse([node('rabbit1@n', '4.0.5', { uptime: undefined }), { name: 'x@n', running: false }]);
    const { text } = renderClusterStatus({ cluster: 'c', overview: overviewSchema.parse({}), nodes: odd });
    expect(text).toContain(':red_circle: `x@n` — *not running*');
    expect(text).toContain('RabbitMQ 4.0.5, metadata store Mnesia (by version: the khepri_db flag could not be read)');
  });
});
