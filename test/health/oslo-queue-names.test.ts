import { describe, expect, it } from 'vitest';
import { fanoutTopic, parseOsloQueueName } from '../../src/health/oslo-queue-names.js';
import { fixtureQueues } from '../support/snapshot-fixtures.js';

const HEX = '669e2a65df444336b3234276fd9e4662';

describe('parseOsloQueueName', () => {
  it('recognises uuid fanout queues and names their topic', () => {
    expect(parseOsloQueueName(`compute_fanout_${HEX}`)).toEqual({ kind: 'fanout', topic: 'compute' });
    expect(parseOsloQueueName(`q-agent-notifier-port-update_fanout_${HEX}`)).toEqual({
      kind: 'fanout',
      topic: 'q-agent-notifier-port-update',
    });
    // Topics may carry dots and underscores; the id is what follows the last `_fanout_`.
    expect(fanoutTopic(`cinder-volume.host@lvm_fanout_${HEX}`)).toBe('cinder-volume.host@lvm');
    expect(fanoutTopic(`my_topic_fanout_${HEX}`)).toBe('my_topic');
  });

  it("recognises the queue manager's <topic>_fanout_<host>:<process>:<N> form", () => {
    expect(parseOsloQueueName('cinder-volume_fanout_storage2:cinder-volume:1')).toEqual({
      kind: 'fanout',
      topic: 'cinder-volume',
      host: 'storage2',
      process: 'cinder-volume',
    });
  });

  it('recognises reply queues in both forms', () => {
    expect(parseOsloQueueName(`reply_${HEX}`)).toEqual({ kind: 'reply' });
    expect(parseOsloQueueName('reply_storage1:cinder-volume:2')).toEqual({
      kind: 'reply',
      host: 'storage1',
      process: 'cinder-volume',
    });
  });

  it('recognises notification queues by topic and priority', () => {
    expect(parseOsloQueueName('notifications.info')).toEqual({
      kind: 'notifications',
      topic: 'notifications',
      priority: 'info',
    });
    expect(parseOsloQueueName('versioned_notifications.error')).toEqual({
      kind: 'notifications',
      topic: 'versioned_notifications',
      priority: 'error',
    });
    expect(parseOsloQueueName('notifications.sample')?.kind).toBe('notifications');
  });

  it("recognises rabbit_stream_fanout's one <topic>_fanout stream as the fanout of its topic", () => {
    expect(parseOsloQueueName('compute_fanout')).toEqual({ kind: 'stream-fanout', topic: 'compute' });
    expect(fanoutTopic('kolla-scheduler_fanout')).toBe('kolla-scheduler');
    // the per-server forms stay per-server fanout queues, never the stream
    expect(parseOsloQueueName('compute_fanout_cmp-1:nova-compute:1')?.kind).toBe('fanout');
  });

  it('turns away everything else', () => {
    for (const name of [
      'compute',
      'compute.host1',
      '_fanout',
      `compute_fanout_${HEX.slice(1)}`,
      `compute_fanout_${HEX.toUpperCase()}`,
      `compute_fanout_${HEX}x`,
      `_fanout_${HEX}`,
      'compute_fanout_host:proc',
      'compute_fanout_host:proc:x',
      `reply_${HEX.slice(2)}`,
      'reply_',
      'reply_queue',
      'notifications',
      'notifications.',
      'notifications.INFO',
      'notifications.custom',
      'my.notifications.info',
      'amq.gen-JzTY20BRgKO-HjmUJj0wLg',
      '',
    ]) {
      expect(parseOsloQueueName(name), name).toBeUndefined();
    }
  });

  it('classifies every queue captured from the broker', () => {
    const kinds = Object.fromEntries(
      fixtureQueues('backlog-queues.json').map((q) => [`${q.vhost}/${q.name}`, parseOsloQueueName(q.name)?.kind]),
    );
    expect(kinds).toEqual({
      '//compute': undefined,
      '//compute_fanout_669e2a65df444336b3234276fd9e4662': 'fanout',
      '//compute_fanout_eb6504c7375d42cdbff2f8f17cf2e167': 'fanout',
      '//conductor': undefined,
      '//conductor_fanout_2165b5057be14456ac30233ad07ab4f1': 'fanout',
      '//notifications.info': 'notifications',
      '//q-l3-plugin': undefined,
      '//q-plugin': undefined,
      '//reply_0566fa56885b47bc9ec5a0b4bf57bffc': 'reply',
      '//reply_3d6619fa22ad43cbb92500540c3b7ec0': 'reply',
      '//reply_9dbe0c2f4c4d40d89023b9823d0cc8bc': 'reply',
      '//reply_aec8fa41bb224fd2911261c0bcbb74c0': 'reply',
      '//scheduler': undefined,
      '//scheduler_fanout_a3a849377ca54775a69cb9d2c82fbf34': 'fanout',
      '//versioned_notifications.error': 'notifications',
      'openstack/cinder-volume_fanout_storage1:cinder-volume:1': 'fanout',
      'openstack/cinder-volume_fanout_storage2:cinder-volume:1': 'fanout',
      'openstack/reply_storage1:cinder-volume:2': 'reply',
      'openstack/reply_storage2:cinder-volume:2': 'reply',
    });
  });
});
