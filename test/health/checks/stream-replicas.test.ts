import { describe, expect, it } from 'vitest';
import { streamReplicasCheck } from '../../../src/health/checks/stream-replicas.js';
import type { StreamReplicas } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureNodes, fixtureStream, snapshotOf } from '../../support/snapshot-fixtures.js';

// The `scheduler_fanout` stream of the captured kolla layout (oslo 16 stream fanout on RabbitMQ 4.0.5), with its
// replicas on all three nodes; `rabbitmq-streams delete_replica` leaves the same answer without the node.
const stream = () => fixtureStream('kolla-queue-stream.json');
const evaluate = (streams: StreamReplicas[], nodes = fixtureNodes('kolla-nodes.json', '4.0')) =>
  streamReplicasCheck.evaluate(snapshotOf({ nodes, streams }), checkContext());

describe('stream-replicas check', () => {
  it('is silent when the stream has a replica on every running node', () => {
    expect(stream().members).toEqual(['rabbit1@localhost', 'rabbit2@localhost', 'rabbit3@localhost']);
    expect(evaluate([stream()])).toEqual([]);
  });

  it('names the stream and the running node it has no replica on', () => {
    const lost = { ...stream(), members: ['rabbit1@localhost', 'rabbit2@localhost'] };
    const [finding, ...rest] = evaluate([lost]);
    expect(rest).toEqual([]);
    expect(finding?.subject).toBe('//scheduler_fanout');
    expect(finding?.summary).toBe('Stream `scheduler_fanout` has no replica on `rabbit3@localhost`');
    expect(finding?.details?.join('\n')).toContain('rabbitmq-streams add_replica scheduler_fanout rabbit3@localhost');
    expect(finding?.data).toMatchObject({ vhost: '/', name: 'scheduler_fanout', missing: ['rabbit3@localhost'] });
  });

  it('does not count a member on a stopped node as missing, nor a stopped node without one', () => {
    const nodes = fixtureNodes('node-stopped-nodes.json', '4.0');
    expect(nodes.find((n) => n.name === 'rabbit3@localhost')?.running).toBe(false);
    expect(evaluate([fixtureStream('node-stopped-queue-stream.json')], nodes)).toEqual([]);
    expect(evaluate([{ ...stream(), members: ['rabbit1@localhost', 'rabbit2@localhost'] }], nodes)).toEqual([]);
  });

  it('does not judge a stream whose stats listed no members', () => {
    const { members: _members, ...unknown } = stream();
    expect(evaluate([unknown])).toEqual([]);
  });

  it('needs the nodes and the streams, and offers the repair workflow', () => {
    expect(streamReplicasCheck.needs).toEqual(['nodes', 'streams']);
    expect(streamReplicasCheck.workflow).toBe('repair-stream-replicas');
  });
});
