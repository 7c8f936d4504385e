import { describe, expect, it } from 'vitest';
import { renderGroup, renderSampleReply, SAMPLE_REPLY_CHARS, samplesPerReply } from '../../src/tap/group-message.js';

describe('renderGroup', () => {
  it('shows count, window, hosts, instances and the last error, with a plain-text fallback', () => {
    const message = renderGroup({
      id: 'g1',
      channel: 'C0ALERTS',
      title: 'compute.instance.create.error from compute on cmp-01',
      severity: 'error',
      groupKey: 'eventType=compute.instance.create.error service=compute host=cmp-01',
      route: 'errors',
      cluster: 'prod',
      count: 1234,
      firstSeen: Date.UTC(2026, 10, 22, 13, 0, 0),
      lastSeen: Date.UTC(2026, 10, 22, 13, 4, 30),
      lastError: 'RescheduledException: Build of instance x was re-scheduled',
      hosts: Array.from({ length: 10 }, (_, i) => `cmp-${i}`),
      instances: ['i-1'],
      vhosts: ['/'],
    });
    expect(message.text).toBe('compute.instance.create.error from compute on cmp-01: 1234 event(s)');
    const json = JSON.stringify(message.blocks);
    expect(json).toContain('*1,234* events 2026-11-22 13:00:00Z → 2026-11-22 13:04:30Z');
    expect(json).toContain('*Hosts (10)*\\n`cmp-0`');
    expect(json).toContain('and 2 more');
    expect(json).toContain('RescheduledException: Build of instance x was re-scheduled');
  });
});

describe('renderGroup vhosts', () => {
  const group = (vhosts: string[]) =>
    JSON.stringify(
      renderGroup({
        id: 'g2',
        channel: 'C0ALERTS',
        title: 'port.create.error from neutron on net-1',
        severity: 'error',
        groupKey: 'eventType=port.create.error service=neutron host=net-1',
        route: 'errors',
        cluster: 'prod',
        count: 2,
        firstSeen: 0,
        lastSeen: 1_000,
        hosts: ['net-1'],
        instances: [],
        vhosts,
      }).blocks,
    );

  it('names the vhost a group came from, unless it is only the default one', () => {
    expect(group(['/neutron'])).toContain('*Vhost*\\n`/neutron`');
    expect(group(['/', '/neutron'])).toContain('*Vhosts (2)*\\n`/`, `/neutron`');
    expect(group(['/'])).not.toContain('Vhost');
    expect(group([])).not.toContain('Vhost');
  });
});

describe('sample replies', () => {
  it('packs the waiting samples into one reply up to its length, and always at least one', () => {
    const short = ['a'.repeat(100), 'b'.repeat(100), 'c'.repeat(100)];
    expect(samplesPerReply(short)).toBe(3);
    const long = Array.from({ length: 10 }, (_, i) => String(i).repeat(SAMPLE_REPLY_CHARS / 4));
    expect(samplesPerReply(long)).toBe(3);
    expect(samplesPerReply(['x'.repeat(SAMPLE_REPLY_CHARS * 2), 'y'])).toBe(1);
  });

  it('says how many more events were counted than shown, only past tap.maxSamples', () => {
    expect(renderSampleReply(['one', 'two'])).toBe('one\n\ntwo');
    expect(renderSampleReply(['five'], { maxSamples: 5, count: 5 })).toBe('five');
    expect(renderSampleReply(['five'], { maxSamples: 5, count: 1_005 })).toBe(
      'five\n\n_…and 1,000 more so far, counted in the message above: the first 5 are shown in full (`tap.maxSamples`)._',
    );
  });
});
