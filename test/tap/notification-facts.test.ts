/**
 * extractFacts on the oslo fixtures of each family (nova legacy and versioned, cinder, neutron, glance), on small
 * hand-made payloads for the rules in between, and on hostile payloads that must never make it throw.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeNotification, type OsloNotification } from '../../src/tap/notification-envelope.js';
import {
  extractFacts,
  MAX_FACT_TEXT,
  type NotificationFacts,
  parsePublisherId,
  truncateText,
} from '../../src/tap/notification-facts.js';

function fromFixture(file: string): OsloNotification {
  const body = readFileSync(new URL(`../fixtures/oslo/${file}`, import.meta.url));
  const result = decodeNotification(body, { maxBytes: 64 * 1024 });
  if (!result.ok) throw new Error(`${file}: ${result.reason}: ${result.detail}`);
  return result.notification;
}

/** A notification as the decoder would return it, for payloads that do not need a wire body. */
function notification(payload: unknown, overrides: Partial<OsloNotification> = {}): OsloNotification {
  return {
    messageId: 'm-1',
    publisherId: 'compute.cmp-01',
    eventType: 'compute.instance.update',
    priority: 'INFO',
    payload,
    timestamp: '2026-11-22 13:23:30.497700',
    timestampMs: Date.parse('2026-11-22T13:23:30.497Z'),
    envelopeVersion: 2,
    context: {},
    raw: {},
    ...overrides,
  };
}

const PROJECT = '6f70656e737461636b20342065766572';

describe('parsePublisherId', () => {
  it('splits the legacy form on the first dot only', () => {
    expect(parsePublisherId('compute.host1')).toEqual({ service: 'compute', host: 'host1' });
    expect(parsePublisherId('compute.cmp-01.dc1.example.net')).toEqual({
      service: 'compute',
      host: 'cmp-01.dc1.example.net',
    });
    expect(parsePublisherId('volume.stor-01@lvm')).toEqual({ service: 'volume', host: 'stor-01@lvm' });
    expect(parsePublisherId('compute.fe80::1')).toEqual({ service: 'compute', host: 'fe80::1' });
  });

  it('splits the versioned form on the colon, even when the host has dots', () => {
    expect(parsePublisherId('nova-compute:host1')).toEqual({ service: 'nova-compute', host: 'host1' });
    expect(parsePublisherId('nova-compute:cmp-01.dc1.example.net')).toEqual({
      service: 'nova-compute',
      host: 'cmp-01.dc1.example.net',
    });
  });

  it('leaves out what is not there', () => {
    expect(parsePublisherId('nova-scheduler')).toEqual({ service: 'nova-scheduler' });
    expect(parsePublisherId('')).toEqual({});
    expect(parsePublisherId('.host1')).toEqual({ host: 'host1' });
    expect(parsePublisherId('compute.')).toEqual({ service: 'compute' });
  });
});

describe('extractFacts on the oslo fixtures', () => {
  const expected: Record<string, NotificationFacts> = {
    'nova-legacy-compute.instance.create.error': {
      service: 'compute',
      host: 'cmp-01.dc1.example.net',
      instanceId: '178b0921-8f85-4257-88b6-2e743b5a975c',
      projectId: PROJECT,
      state: 'building',
      exception: 'RescheduledException',
      errorMessage:
        'Build of instance 178b0921-8f85-4257-88b6-2e743b5a975c was re-scheduled: Insufficient compute resources: ' +
        'Free memory 1024.00 MB < requested 4096 MB.',
    },
    'nova-versioned-instance.create.error': {
      service: 'nova-compute',
      host: 'cmp-01.dc1.example.net',
      instanceId: 'a5d3bb1b-4d70-4b16-9c63-0f6e9b5c2e11',
      projectId: PROJECT,
      state: 'building',
      exception: 'FlavorDiskTooSmall',
      errorMessage: "The created instance's disk would be too small.",
    },
    'nova-versioned-service.update': {
      service: 'nova-compute',
      host: 'cmp-07',
      resourceId: 'fa69c544-906b-4a6a-a9c6-c1f7a8078c73',
      serviceStatus: {
        binary: 'nova-compute',
        host: 'cmp-07',
        disabled: true,
        forcedDown: true,
        reason: 'AUTO: Failed to connect to libvirt',
        lastSeenUp: '2026-11-22T13:20:02Z',
      },
    },
    'cinder-volume.attach.error': {
      service: 'volume',
      host: 'stor-01@lvm',
      projectId: PROJECT,
      resourceId: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      state: 'error_attaching',
      exception: 'ProcessExecutionError',
      errorMessage:
        "Unexpected error while running command.\nCommand: tgtadm --lld iscsi --op show --mode target\nExit code: 107\nStdout: ''\nStderr: 'tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\\n'",
    },
    'neutron-port.create.end': {
      service: 'network',
      host: 'ctl-01',
      // device_owner compute:nova: the port belongs to that instance.
      instanceId: '178b0921-8f85-4257-88b6-2e743b5a975c',
      projectId: PROJECT,
      resourceId: 'd2b4c5e6-f708-4192-a3b4-c5d6e7f80912',
      state: 'DOWN',
    },
    'glance-image.activate': {
      service: 'image',
      host: 'localhost',
      projectId: PROJECT,
      resourceId: '155d900f-4e14-4e4c-a73d-069cbf4541e6',
      state: 'active',
    },
  };

  for (const [name, facts] of Object.entries(expected)) {
    it(`extracts the facts of ${name} (v1 and v2 alike)`, () => {
      expect(extractFacts(fromFixture(`${name}.v1.json`))).toEqual(facts);
      expect(extractFacts(fromFixture(`${name}.v2.json`))).toEqual(facts);
    });
  }
});

describe('extractFacts rules', () => {
  it('reads an ExceptionPayload sent as the payload itself', () => {
    const payload = {
      'nova_object.name': 'ExceptionPayload',
      'nova_object.data': { exception: 'ComputeHostNotFound', exception_message: 'Compute host cmp-9 not found.' },
    };
    expect(
      extractFacts(notification(payload, { publisherId: 'nova-compute:cmp-01', eventType: 'compute.exception' })),
    ).toEqual({
      service: 'nova-compute',
      host: 'cmp-01',
      exception: 'ComputeHostNotFound',
      errorMessage: 'Compute host cmp-9 not found.',
    });
  });

  it('takes a versioned volume attach error apart: instance, volume and fault', () => {
    const payload = {
      'nova_object.name': 'InstanceActionVolumePayload',
      'nova_object.data': {
        uuid: 'inst-1',
        volume_id: 'vol-1',
        tenant_id: 'p-1',
        state: 'active',
        fault: { 'nova_object.data': { exception: 'VolumeAttachFailed', exception_message: 'boom' } },
      },
    };
    expect(
      extractFacts(notification(payload, { eventType: 'instance.volume_attach.error', priority: 'ERROR' })),
    ).toEqual({
      service: 'compute',
      host: 'cmp-01',
      instanceId: 'inst-1',
      projectId: 'p-1',
      resourceId: 'vol-1',
      state: 'active',
      exception: 'VolumeAttachFailed',
      errorMessage: 'boom',
    });
  });

  it('uses <resource>_id when a delete sends only the id', () => {
    const facts = extractFacts(
      notification({ port_id: 'p-9' }, { publisherId: 'network.ctl-01', eventType: 'port.delete.end' }),
    );
    expect(facts).toEqual({ service: 'network', host: 'ctl-01', resourceId: 'p-9' });
  });

  it('falls back to the payload host when the publisher has none', () => {
    expect(extractFacts(notification({ host: 'cmp-02' }, { publisherId: 'nova-scheduler' }))).toEqual({
      service: 'nova-scheduler',
      host: 'cmp-02',
    });
  });

  it('trusts `message` as an error only for alerting priorities or next to an exception', () => {
    expect(extractFacts(notification({ message: 'all good' })).errorMessage).toBeUndefined();
    expect(extractFacts(notification({ message: 'disk full' }, { priority: 'WARN' })).errorMessage).toBe('disk full');
    expect(extractFacts(notification({ message: 'quota', exception: 'OverQuota' }))).toMatchObject({
      exception: 'OverQuota',
      errorMessage: 'quota',
    });
  });

  it('reads Python reprs of exceptions into a class name and an unescaped message', () => {
    const cases: [string, Pick<NotificationFacts, 'exception' | 'errorMessage'>][] = [
      [
        "NoValidHost('No valid host was found. ')",
        { exception: 'NoValidHost', errorMessage: 'No valid host was found.' },
      ],
      [
        "oslo_messaging.exceptions.MessagingTimeout('Timed out \\'waiting\\'\\nfor a reply \\u00e9 \\x41')",
        {
          exception: 'oslo_messaging.exceptions.MessagingTimeout',
          errorMessage: "Timed out 'waiting'\nfor a reply é A",
        },
      ],
      ['KeyError("it\'s")', { exception: 'KeyError', errorMessage: "it's" }],
      ['ValueError()', { exception: 'ValueError' }],
      ["Conflict(409, 'in use')", { exception: 'Conflict', errorMessage: "409, 'in use'" }],
      ["Pair('a', 'b')", { exception: 'Pair', errorMessage: "'a', 'b'" }],
      ['Something went wrong (really)', { exception: 'Something went wrong (really)' }],
    ];
    for (const [exception, facts] of cases) {
      const got = extractFacts(notification({ exception }, { priority: 'ERROR' }));
      expect({ exception: got.exception, errorMessage: got.errorMessage }).toEqual({
        errorMessage: undefined,
        ...facts,
      });
    }
  });

  it('treats a plain-text `error` as the message and a repr `error` as an exception', () => {
    expect(extractFacts(notification({ error: 'Volume is busy' }, { priority: 'ERROR' }))).toMatchObject({
      errorMessage: 'Volume is busy',
    });
    expect(extractFacts(notification({ error: 'Volume is busy' })).exception).toBeUndefined();
    expect(extractFacts(notification({ error: "VolumeIsBusy('vol-1 is busy')" }))).toMatchObject({
      exception: 'VolumeIsBusy',
      errorMessage: 'vol-1 is busy',
    });
  });

  it('reads legacy service records, but not any dict that mentions a binary', () => {
    const payload = { host: 'stor-01@lvm', binary: 'cinder-volume', disabled: true, disabled_reason: 'maintenance' };
    expect(extractFacts(notification(payload, { publisherId: 'volume.ctl-01', eventType: 'service.update' }))).toEqual({
      service: 'volume',
      host: 'ctl-01',
      serviceStatus: { binary: 'cinder-volume', host: 'stor-01@lvm', disabled: true, reason: 'maintenance' },
    });
    expect(extractFacts(notification({ binary: 'nova-compute' })).serviceStatus).toBeUndefined();
  });

  it('truncates long texts for chat', () => {
    const long = `${'x'.repeat(MAX_FACT_TEXT - 2)}😀tail`;
    const facts = extractFacts(
      notification({ exception_message: long, state: 'y'.repeat(2000) }, { priority: 'ERROR' }),
    );
    expect(facts.state).toBe(`${'y'.repeat(MAX_FACT_TEXT - 1)}…`);
    // The cut would split the emoji's surrogate pair: it is dropped whole instead.
    expect(facts.errorMessage).toBe(`${'x'.repeat(MAX_FACT_TEXT - 2)}…`);
    expect(truncateText('short')).toBe('short');
  });

  it('parses the repr of an exception longer than the chat limit before cutting it', () => {
    const facts = extractFacts(notification({ exception: `Boom('${'z'.repeat(5000)}')` }));
    expect(facts.exception).toBe('Boom');
    expect(facts.errorMessage).toHaveLength(MAX_FACT_TEXT);
  });
});

describe('extractFacts on hostile payloads', () => {
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 10_000; i++) {
    const next: Record<string, unknown> = {};
    cursor['nova_object.data'] = next;
    cursor = next;
  }

  const hostile: [string, unknown][] = [
    ['null', null],
    ['a string', 'compute.instance.create.error'],
    ['a number', 42],
    ['a boolean', true],
    ['an empty array', []],
    ['an array of junk', [null, { exception: 'X' }, [[]]]],
    ['nova_object.data null', { 'nova_object.data': null }],
    ['nova_object.data an array', { 'nova_object.data': [{ uuid: 'x' }] }],
    ['a fault that is a string', { 'nova_object.data': { fault: 'boom' } }],
    ['a fault whose data is an array', { 'nova_object.data': { fault: { 'nova_object.data': [1] } } }],
    ['10 000 levels of nova_object.data', deep],
    ['fields of the wrong types', { host: ['a'], state: {}, binary: 5, forced_down: 'yes', exception: {}, id: null }],
    ['prototype keys', JSON.parse('{"__proto__": {"host": "evil"}, "constructor": "x", "compute": 1}')],
    ['a resource key that is not a dict', { compute: 'x', port: ['y'] }],
    ['an exception of a megabyte', { exception: `E(${'('.repeat(1_000_000)}` }],
  ];

  for (const [label, payload] of hostile) {
    it(`does not throw on ${label}`, () => {
      const facts = extractFacts(notification(payload));
      expect(facts.service).toBe('compute');
      expect(facts.host).toBe('cmp-01');
      expect(Object.values(facts).every((value) => value !== undefined)).toBe(true);
      expect(facts.serviceStatus).toBeUndefined();
    });
  }

  it('extracts nothing but the publisher from non-dict payloads and junk fields', () => {
    for (const payload of [null, 'text', 42, [], { host: ['a'], state: {}, exception: {}, id: null }]) {
      expect(extractFacts(notification(payload))).toEqual({ service: 'compute', host: 'cmp-01' });
    }
  });

  it('reads own keys only, never inherited ones', () => {
    const payload = Object.create({ host: 'evil', id: 'evil', port: { id: 'evil' }, exception: 'Evil()' }) as unknown;
    expect(extractFacts(notification(payload, { publisherId: 'x', eventType: 'port.update.end' }))).toEqual({
      service: 'x',
    });
  });

  it('survives a payload whose every access throws, keeping the publisher facts', () => {
    const trap = (): never => {
      throw new Error('trap');
    };
    const payload = new Proxy({}, { get: trap, has: trap, getOwnPropertyDescriptor: trap, ownKeys: trap });
    expect(extractFacts(notification(payload))).toEqual({ service: 'compute', host: 'cmp-01' });
  });

  it('survives a notification built by hand with a missing publisher and event type', () => {
    const n = { payload: { host: 'h' } } as unknown as OsloNotification;
    expect(extractFacts(n)).toEqual({ host: 'h' });
  });
});
