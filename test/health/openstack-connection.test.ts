import { describe, expect, it } from 'vitest';
import type { ConnectionInfo } from '../../src/health/cluster-snapshot.js';
import {
  describeConnection,
  groupByService,
  openStackProcess,
  parseConnectionName,
  serviceOf,
  UNKNOWN_SERVICE,
} from '../../src/health/openstack-connection.js';
import { fixtureConnections } from '../support/snapshot-fixtures.js';

const UUID = 'b32bac25-4f43-42fe-ba28-8340ae5cc3ca';

function byName(connections: ConnectionInfo[], connectionName: string): ConnectionInfo {
  const found = connections.find((c) => c.client_properties.connection_name?.startsWith(connectionName));
  if (!found) throw new Error(`no connection named ${connectionName}…`);
  return found;
}

describe('parseConnectionName', () => {
  it("parses oslo's <argv0>:<pid>:<uuid>", () => {
    expect(parseConnectionName(`nova-conductor:4242:${UUID}`)).toEqual({
      service: 'nova-conductor',
      pid: 4242,
      id: UUID,
    });
  });

  it('takes the basename of an argv0 path', () => {
    expect(parseConnectionName(`/usr/bin/nova-compute:17:${UUID}`)?.service).toBe('nova-compute');
    expect(parseConnectionName(`/var/lib/kolla/venv/bin/cinder-volume:1:${UUID}`)?.service).toBe('cinder-volume');
    expect(parseConnectionName(`C:\\openstack\\bin\\nova-compute.exe:1:${UUID}`)?.service).toBe('nova-compute.exe');
  });

  it('reads from the right, so an argv0 with a colon still parses', () => {
    expect(parseConnectionName(`odd:name:99:${UUID}`)).toEqual({ service: 'odd:name', pid: 99, id: UUID });
  });

  it('tolerates other formats and missing values', () => {
    for (const name of [
      undefined,
      '',
      'nova-api',
      'warren-tap',
      `nova-api:${UUID}`,
      `nova-api:pid:${UUID}`,
      'nova-api:42:',
      `:42:${UUID}`,
      `/usr/bin/:42:${UUID}`,
      '127.0.0.1:5672 -> 10.0.0.1:5672',
    ]) {
      expect(parseConnectionName(name), String(name)).toBeUndefined();
    }
  });
});

describe('connections captured from the broker', () => {
  const leaky = fixtureConnections('leaky-connections.json');

  it('names the OpenStack process behind a connection, with its host from peer_host', () => {
    expect(openStackProcess(byName(leaky, 'nova-conductor:4242:'))).toEqual({
      service: 'nova-conductor',
      pid: 4242,
      host: '127.0.0.1',
    });
    expect(openStackProcess(byName(leaky, '/var/lib/kolla/venv/bin/cinder-volume:'))).toMatchObject({
      service: 'cinder-volume',
      host: '127.0.0.1',
    });
  });

  it('leaves clients without an oslo name unnamed but still placed', () => {
    const anonymous = leaky.find((c) => c.channels === 120);
    if (!anonymous) throw new Error('fixture lacks the anonymous 120-channel connection');
    expect(anonymous.client_properties.connection_name).toBeUndefined();
    expect(openStackProcess(anonymous)).toEqual({ service: undefined, pid: undefined, host: '127.0.0.1' });
    expect(serviceOf(anonymous)).toBe(UNKNOWN_SERVICE);
  });

  it('describes a connection for an operator', () => {
    const conductor = byName(leaky, 'nova-conductor:4242:');
    expect(describeConnection(conductor)).toBe(
      `\`nova-conductor\` on \`127.0.0.1\`, pid 4242, user \`warren\`, connection \`${conductor.name}\``,
    );
    const anonymous = leaky.find((c) => c.channels === 120) as ConnectionInfo;
    expect(describeConnection(anonymous)).toBe(
      `a client (\`amqplib\`) on \`127.0.0.1\`, user \`warren\`, connection \`${anonymous.name}\``,
    );
  });

  it('keeps a connection name that is not oslo’s as a hint', () => {
    const connection: ConnectionInfo = {
      name: 'c1',
      channels: 1,
      client_properties: { connection_name: 'warren-tap' },
    };
    expect(describeConnection(connection)).toBe('a client, connection `c1`, named `warren-tap`');
  });

  it('groups connections by service, sorted, unknown last', () => {
    const groups = groupByService(fixtureConnections('heartbeat-connections.json'));
    expect([...groups.keys()]).toEqual([
      'cinder-volume',
      'neutron-openvswitch-agent',
      'nova-api',
      'nova-compute',
      'nova-conductor',
      'nova-scheduler',
      UNKNOWN_SERVICE,
    ]);
    // Three processes: two cinder-volume ones without heartbeats and the kolla one with them.
    expect(groups.get('cinder-volume')?.map((c) => openStackProcess(c).pid)).toHaveLength(3);
    expect(groups.get(UNKNOWN_SERVICE)).toHaveLength(2);
  });
});
