import { describe, expect, it } from 'vitest';
import { channelLeakCheck } from '../../../src/health/checks/channel-leak.js';
import type { ClusterSnapshot } from '../../../src/health/cluster-snapshot.js';
import { checkContext, fixtureConnections, snapshotOf } from '../../support/snapshot-fixtures.js';

// A nova-conductor-named connection with 150 channels, an unnamed amqplib one with 120, and one-channel oslo-like ones.
const leaky = () => snapshotOf({ connections: fixtureConnections('leaky-connections.json') });
const evaluate = (snapshot: ClusterSnapshot, thresholds = {}) =>
  channelLeakCheck.evaluate(snapshot, checkContext(thresholds));

describe('channel-leak check', () => {
  it('reports each connection above the limit, naming the OpenStack service, host and pid', () => {
    const findings = evaluate(leaky());
    expect(findings).toHaveLength(2);
    const conductor = findings.find((f) => f.data?.service === 'nova-conductor');
    expect(conductor).toMatchObject({
      check: 'channel-leak',
      severity: 'warning',
      subject: '127.0.0.1:41418 -> 127.0.0.1:30516',
      summary: '`nova-conductor` on `127.0.0.1` (pid 4242) holds 150 channels on one connection',
      data: {
        name: '127.0.0.1:41418 -> 127.0.0.1:30516',
        service: 'nova-conductor',
        host: '127.0.0.1',
        pid: 4242,
        user: 'warren',
        node: 'rabbit1@localhost',
        channels: 150,
      },
    });
    expect(conductor?.data?.connectionName).toMatch(/^nova-conductor:4242:[0-9a-f-]{36}$/);
    expect(conductor?.details?.[0]).toBe(
      '`nova-conductor` on `127.0.0.1`, pid 4242, user `warren`, connection `127.0.0.1:41418 -> 127.0.0.1:30516`',
    );
  });

  it('still reports a client without an oslo name, by what the broker knows', () => {
    const anonymous = evaluate(leaky()).find((f) => f.data?.service === null);
    expect(anonymous).toMatchObject({
      subject: '127.0.0.1:33698 -> 127.0.0.1:14702',
      summary: 'A client (`amqplib`) on `127.0.0.1` holds 120 channels on one connection',
      data: { pid: null, channels: 120, node: 'rabbit2@localhost' },
    });
  });

  it('follows the threshold and leaves healthy connections alone', () => {
    expect(evaluate(leaky(), { channelsPerConnection: 130 }).map((f) => f.data?.channels)).toEqual([150]);
    expect(evaluate(leaky(), { channelsPerConnection: 150 })).toEqual([]);
    expect(evaluate(snapshotOf({ connections: fixtureConnections('heartbeat-connections.json') }))).toEqual([]);
    expect(evaluate(snapshotOf({ connections: fixtureConnections('healthy-connections.json') }))).toEqual([]);
  });

  it('offers the close workflow and says to restart the component', () => {
    expect(channelLeakCheck).toMatchObject({ workflow: 'close-leaky-connections', needs: ['connections'] });
    expect(channelLeakCheck.hint).toContain('Restart');
    expect(channelLeakCheck.hint).toContain('X-Reason');
  });
});
