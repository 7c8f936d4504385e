import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeProblems, renderClusterStatus } from '../../commands/status.js';
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
