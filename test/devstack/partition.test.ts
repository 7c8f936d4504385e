/**
 * cutPartition's waiting and cutting again, against a fake management API that reports a partition only once it
 * has been cut a given number of times, and a stack whose rabbitmqctl only counts the cuts. The real cut is
 * exercised by the partition tests on the local cluster.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cutPartition, partitionViews } from '../../src/devstack/partition.js';
import type { LocalStack, LocalStackDescription, RabbitmqctlResult } from '../../src/devstack/types.js';

const NODES = ['rabbit1@localhost', 'rabbit2@localhost'];

interface FakeCluster {
  stack: LocalStack;
  cuts: string[][];
  server: Server;
}

let running: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => running?.close(resolve));
  running = undefined;
});

/** A cluster whose second node reports a partition from the first after `showsAfterCuts` cuts (never when 0). */
async function fakeCluster(showsAfterCuts: number, cutExit = 0): Promise<FakeCluster> {
  const cuts: string[][] = [];
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Basic ${Buffer.from('warren:secret').toString('base64')}`) {
      res.writeHead(401).end();
      return;
    }
    const node = decodeURIComponent(req.url?.split('?')[0]?.split('/').pop() ?? '');
    const cut = showsAfterCuts > 0 && cuts.length >= showsAfterCuts;
    const partitions = cut && node === NODES[1] ? [NODES[0]] : [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: node, partitions }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running = server;
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const desc: LocalStackDescription = {
    baseDir: '/nonexistent',
    redisUrl: 'redis://127.0.0.1:1',
    nodes: NODES.map((name) => ({
      name,
      amqpPort: 1,
      managementPort: 1,
      distPort: 1,
      prometheusPort: 1,
      amqpUrl: 'amqp://127.0.0.1:1',
      managementUrl: base,
      prometheusUrl: base,
    })),
    username: 'warren',
    password: 'secret',
    cookieHome: '/nonexistent',
    pids: { redis: 0, rabbit: {} },
    rabbitmq: { series: '3.10', root: '/', rabbitmqctl: [], rabbitmqQueues: [], rabbitmqStreams: [], python3: [] },
  };
  const stack = {
    ...desc,
    describe: () => desc,
    rabbitmqctl: async (node: string, args: string[]): Promise<RabbitmqctlResult> => {
      cuts.push([node, ...args]);
      return { stdout: cutExit === 0 ? 'true\n' : '', stderr: cutExit === 0 ? '' : 'nodedown', code: cutExit };
    },
  } as unknown as LocalStack;
  return { stack, cuts, server };
}

describe('cutPartition', () => {
  it('resolves with the views as soon as a node reports the partition after the first cut', async () => {
    const { stack, cuts } = await fakeCluster(1);
    const views = await cutPartition(stack, NODES[0] as string, NODES[1] as string, { retryMs: 2_000 });
    expect([...views]).toEqual([[NODES[1], [NODES[0]]]]);
    expect(cuts).toEqual([[NODES[0], 'eval', `erlang:disconnect_node('${NODES[1]}').`]]);
  });

  it('cuts again when the first cut shows nothing, and says so', async () => {
    const { stack, cuts } = await fakeCluster(2);
    const retries: string[] = [];
    const views = await cutPartition(stack, NODES[0] as string, NODES[1] as string, {
      retryMs: 300,
      onRetry: (message) => retries.push(message),
    });
    expect(views.get(NODES[1] as string)).toEqual([NODES[0]]);
    expect(cuts).toHaveLength(2);
    expect(retries).toEqual([
      expect.stringMatching(/^no partition 300 ms after disconnect 1 \(exit 0: true\); cutting again$/),
    ]);
  });

  it('gives up after the last attempt, naming each cut, each freeze and their outcomes', async () => {
    const { stack, cuts } = await fakeCluster(0, 69);
    await expect(
      cutPartition(stack, NODES[0] as string, NODES[1] as string, { retryMs: 200, attempts: 2 }),
    ).rejects.toThrow(
      `no node reported a partition after cutting ${NODES[0]} from ${NODES[1]} (RabbitMQ 3.10): ` +
        'disconnect 1 (exit 69: nodedown); disconnect 2 (exit 69: nodedown); ' +
        `freeze 1: failed: could not find ${NODES[1]}'s Erlang VM to freeze (os:getpid() gave exit 69: nodedown); ` +
        `freeze 2: failed: could not find ${NODES[1]}'s Erlang VM to freeze (os:getpid() gave exit 69: nodedown). Now: `,
    );
    // two disconnects, then each freeze asks the node for its VM's pid
    expect(cuts.map((c) => c[2])).toEqual([
      `erlang:disconnect_node('${NODES[1]}').`,
      `erlang:disconnect_node('${NODES[1]}').`,
      'os:getpid().',
      'os:getpid().',
    ]);
  });
});

describe('partitionViews', () => {
  it('lists only the nodes that report a partition, asking each node about itself', async () => {
    const { stack } = await fakeCluster(1);
    expect((await partitionViews(stack.describe())).size).toBe(0);
    await stack.rabbitmqctl(NODES[0] as string, ['eval', 'cut']);
    expect([...(await partitionViews(stack.describe()))]).toEqual([[NODES[1], [NODES[0]]]]);
  });
});
