/**
 * decodeNotification against bodies produced by real oslo.messaging code (test/fixtures/oslo, see generate.py there)
 * and against hand-made broken bodies, one per rejection reason. This file tests decoding only; what the payloads
 * mean is covered in notification-facts.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type DecodeResult,
  decodeNotification,
  type OsloNotification,
  osloMessageSchema,
  parseOsloTimestamp,
  readOsloMessage,
} from '../../src/tap/notification-envelope.js';

const LIMIT = { maxBytes: 64 * 1024 };

interface IndexEntry {
  file: string;
  driver: string;
  envelopeVersion: 1 | 2;
  exchange: string;
  routingKey: string;
  contentType: string;
}

const fixture = (file: string): Buffer => readFileSync(new URL(`../fixtures/oslo/${file}`, import.meta.url));
const index = JSON.parse(fixture('index.json').toString('utf8')) as IndexEntry[];

function decoded(body: Buffer, options = LIMIT): OsloNotification {
  const result = decodeNotification(body, options);
  if (!result.ok) throw new Error(`expected a notification, got ${result.reason}: ${result.detail}`);
  return result.notification;
}

function rejection(result: DecodeResult): { reason: string; detail: string } {
  if (result.ok) throw new Error(`expected a rejection, got ${result.notification.eventType}`);
  return { reason: result.reason, detail: result.detail };
}

/** A well-formed message dict as oslo's Notifier builds it; tests break one field at a time. */
function message(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    message_id: '0f3a2b1c-4d5e-4f60-8a7b-9c0d1e2f3a4b',
    publisher_id: 'compute.cmp-01',
    event_type: 'compute.instance.create.end',
    priority: 'INFO',
    payload: { instance_id: 'i-1' },
    timestamp: '2026-11-22 13:23:30.497700',
    _unique_id: '2f45be20c2ff4f2a92f7c5508824c581',
    _context_request_id: 'req-1',
    ...overrides,
  };
}

const v1 = (msg: unknown): Buffer => Buffer.from(JSON.stringify(msg));
const v2 = (msg: unknown, version: unknown = '2.0'): Buffer =>
  Buffer.from(JSON.stringify({ 'oslo.version': version, 'oslo.message': JSON.stringify(msg) }));

describe('decodeNotification on bodies produced by oslo.messaging', () => {
  const expected: Record<string, Partial<OsloNotification>> = {
    'nova-legacy-compute.instance.create.error': {
      messageId: 'f2ab9101-46be-4904-9e8d-e175b12b53f3',
      publisherId: 'compute.cmp-01.dc1.example.net',
      eventType: 'compute.instance.create.error',
      priority: 'ERROR',
      timestamp: '2026-11-22 13:23:30.497700',
      timestampMs: Date.parse('2026-11-22T13:23:30.497Z'),
    },
    'nova-versioned-instance.create.error': {
      messageId: 'd132ef2c-386a-4bd5-9d27-d858f5deefa4',
      publisherId: 'nova-compute:cmp-01.dc1.example.net',
      eventType: 'instance.create.error',
      priority: 'ERROR',
      timestamp: '2026-11-22 13:23:31.120034',
      timestampMs: Date.parse('2026-11-22T13:23:31.120Z'),
    },
    'nova-versioned-service.update': {
      messageId: 'd980e2f9-b8ca-4e10-9e23-9860d2e0bbdd',
      publisherId: 'nova-compute:cmp-07',
      eventType: 'service.update',
      priority: 'INFO',
      timestamp: '2026-11-22 13:24:05.031337',
      timestampMs: Date.parse('2026-11-22T13:24:05.031Z'),
    },
    'cinder-volume.attach.error': {
      messageId: '14de8ec5-6f83-4691-bb6e-d1ad52e41463',
      publisherId: 'volume.stor-01@lvm',
      eventType: 'volume.attach.error',
      priority: 'ERROR',
      timestamp: '2026-11-22 13:25:40.000002',
      timestampMs: Date.parse('2026-11-22T13:25:40.000Z'),
    },
    'neutron-port.create.end': {
      messageId: 'd5a964e5-546f-42e9-9cf1-28ab76a13183',
      publisherId: 'network.ctl-01',
      eventType: 'port.create.end',
      priority: 'INFO',
      timestamp: '2026-11-22 13:26:01.734512',
      timestampMs: Date.parse('2026-11-22T13:26:01.734Z'),
    },
    'glance-image.activate': {
      messageId: '5dde2bd7-3b77-452d-b73e-06260815093a',
      publisherId: 'image.localhost',
      eventType: 'image.activate',
      priority: 'INFO',
      // A whole second: Python's str(datetime) prints no fraction at all.
      timestamp: '2026-11-22 13:27:00',
      timestampMs: Date.parse('2026-11-22T13:27:00.000Z'),
    },
  };

  it('has a v1 and a v2 body for every expected notification, and nothing unexpected', () => {
    const names = Object.keys(expected).flatMap((name) => [`${name}.v1.json`, `${name}.v2.json`]);
    expect(index.map((entry) => entry.file).sort()).toEqual(names.sort());
  });

  for (const entry of index) {
    it(`decodes ${entry.file}`, () => {
      const name = entry.file.replace(/\.v[12]\.json$/, '');
      const n = decoded(fixture(entry.file));
      expect(n).toMatchObject({ ...expected[name], envelopeVersion: entry.envelopeVersion });
      // oslo publishes on <topic>.<priority lower-cased>: the routing key and the decoded priority must agree.
      expect(entry.routingKey.endsWith(`.${n.priority.toLowerCase()}`)).toBe(true);
      expect(n.raw._unique_id).toMatch(/^[0-9a-f]{32}$/);
      expect(n.raw.message_id).toBe(n.messageId);
      expect(n.context.request_id).toMatch(/^req-[0-9a-f-]{36}$/);
      expect(n.context.roles).toEqual(['member', 'reader']);
      expect(Object.keys(n.context).some((key) => key.startsWith('_context_'))).toBe(false);
    });
  }

  it('keeps the body of a v2 envelope exactly as in v1, the envelope version aside', () => {
    for (const name of Object.keys(expected)) {
      const one = decoded(fixture(`${name}.v1.json`));
      const two = decoded(fixture(`${name}.v2.json`));
      expect(one.envelopeVersion).toBe(1);
      expect(two.envelopeVersion).toBe(2);
      expect({ ...two, envelopeVersion: 1 }).toEqual(one);
    }
  });

  it('gets non-ASCII text back through both levels of JSON escaping', () => {
    // kombu and oslo both dump with ensure_ascii, so v2 carries "caf\\\\u00e9" on the wire.
    expect(fixture('glance-image.activate.v2.json').toString('utf8')).toContain('caf\\\\u00e9');
    for (const version of ['v1', 'v2']) {
      const n = decoded(fixture(`glance-image.activate.${version}.json`));
      expect(n.payload).toMatchObject({ name: 'ubuntu-24.04-café', size: 615055360, owner: expect.any(String) });
    }
  });

  it('keeps the payload whole, including nova versioned objects', () => {
    const n = decoded(fixture('nova-versioned-instance.create.error.v2.json'));
    expect(n.payload).toMatchObject({
      'nova_object.name': 'InstanceCreatePayload',
      'nova_object.data': { fault: { 'nova_object.data': { exception: 'FlavorDiskTooSmall' } } },
    });
  });
});

describe('decodeNotification on hand-made messages', () => {
  it('decodes the same dict identically as v1 and v2', () => {
    const one = decoded(v1(message()));
    expect(one).toEqual({
      messageId: '0f3a2b1c-4d5e-4f60-8a7b-9c0d1e2f3a4b',
      publisherId: 'compute.cmp-01',
      eventType: 'compute.instance.create.end',
      priority: 'INFO',
      payload: { instance_id: 'i-1' },
      timestamp: '2026-11-22 13:23:30.497700',
      timestampMs: Date.parse('2026-11-22T13:23:30.497Z'),
      envelopeVersion: 1,
      context: { request_id: 'req-1' },
      raw: message(),
    });
    expect(decoded(v2(message()))).toEqual({ ...one, envelopeVersion: 2 });
  });

  it('normalises priority case, and WARNING to WARN', () => {
    const priorities: [string, string][] = [
      ['info', 'INFO'],
      ['Error', 'ERROR'],
      ['warning', 'WARN'],
      ['WARNING', 'WARN'],
      ['warn', 'WARN'],
      ['sample', 'SAMPLE'],
      ['audit', 'AUDIT'],
      ['debug', 'DEBUG'],
      ['critical', 'CRITICAL'],
    ];
    for (const [sent, kept] of priorities) {
      expect(decoded(v1(message({ priority: sent }))).priority).toBe(kept);
    }
  });

  it('accepts any JSON payload, null included', () => {
    for (const payload of [null, 'text', 42, [1, 2], { deep: { er: [] } }, false]) {
      expect(decoded(v2(message({ payload }))).payload).toEqual(payload);
    }
  });

  it('reads a null publisher_id (a Notifier built without one) as empty', () => {
    expect(decoded(v1(message({ publisher_id: null }))).publisherId).toBe('');
  });

  it('keeps unknown fields in raw and only real _context_ keys in context', () => {
    const n = decoded(
      v1(
        message({
          _context_: 'no name',
          _context___proto__: { polluted: true },
          _context_user: 'u-1',
          future_field: { x: 1 },
        }),
      ),
    );
    expect(n.raw.future_field).toEqual({ x: 1 });
    expect(Object.keys(n.context).sort()).toEqual(['__proto__', 'request_id', 'user']);
    expect(Object.getPrototypeOf(n.context)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts a body of exactly maxBytes, and a v2 minor version above 2.0', () => {
    const body = v1(message());
    expect(decodeNotification(body, { maxBytes: body.length }).ok).toBe(true);
    expect(decoded(v2(message(), '2.1')).envelopeVersion).toBe(2);
  });

  it('strips a UTF-8 byte order mark rather than failing on it', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), v1(message())]);
    expect(decoded(body).messageId).toBe('0f3a2b1c-4d5e-4f60-8a7b-9c0d1e2f3a4b');
  });
});

describe('decodeNotification rejections', () => {
  it('rejects an oversized body before looking at its bytes', () => {
    expect(rejection(decodeNotification(Buffer.from('{"a":"0123"}'), { maxBytes: 10 }))).toEqual({
      reason: 'oversized',
      detail: 'body is 12 bytes, limit is 10',
    });
    // Invalid UTF-8 too: size comes first.
    expect(rejection(decodeNotification(Buffer.from([0xff, 0xfe, 0xfd]), { maxBytes: 2 })).reason).toBe('oversized');
  });

  it('rejects invalid UTF-8', () => {
    expect(rejection(decodeNotification(Buffer.from([0xff, 0xfe]), LIMIT))).toEqual({
      reason: 'encoding',
      detail: 'body is not valid UTF-8',
    });
    // A truncated two-byte sequence inside otherwise valid JSON must not be patched over with U+FFFD.
    const body = Buffer.concat([Buffer.from('{"a":"caf'), Buffer.from([0xc3]), Buffer.from('"}')]);
    expect(rejection(decodeNotification(body, LIMIT)).reason).toBe('encoding');
  });

  it('rejects a body that is not JSON', () => {
    for (const text of ['hello', '', '{"message_id": ', "{'single': 'quotes'}"]) {
      const r = rejection(decodeNotification(Buffer.from(text), LIMIT));
      expect(r.reason).toBe('not_json');
      expect(r.detail).toMatch(/^body is not JSON: /);
    }
  });

  it('rejects a v2 envelope whose oslo.message is not JSON', () => {
    const body = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': '{"message_id": "x",' }));
    const r = rejection(decodeNotification(body, LIMIT));
    expect(r.reason).toBe('envelope');
    expect(r.detail).toMatch(/^oslo\.message is not JSON: /);
  });

  it('rejects an envelope of another major version', () => {
    expect(rejection(decodeNotification(v2(message(), '3.0'), LIMIT))).toEqual({
      reason: 'envelope',
      detail: 'unsupported oslo.version "3.0"',
    });
    expect(rejection(decodeNotification(v2(message(), '1.0'), LIMIT)).reason).toBe('envelope');
    expect(rejection(decodeNotification(v2(message(), 2.0), LIMIT))).toEqual({
      reason: 'envelope',
      detail: 'oslo.version must be a string',
    });
  });

  it('rejects half an envelope and an oslo.message that is not a string', () => {
    expect(
      rejection(decodeNotification(Buffer.from(JSON.stringify({ 'oslo.message': JSON.stringify(message()) })), LIMIT)),
    ).toEqual({ reason: 'envelope', detail: 'oslo.version must be a string' });
    expect(rejection(decodeNotification(Buffer.from(JSON.stringify({ 'oslo.version': '2.0' })), LIMIT))).toEqual({
      reason: 'envelope',
      detail: 'oslo.message must be a string holding JSON',
    });
    const nested = Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': message() }));
    expect(rejection(decodeNotification(nested, LIMIT)).reason).toBe('envelope');
  });

  it('rejects a message without event_type', () => {
    const { event_type: _dropped, ...rest } = message();
    for (const body of [v1(rest), v2(rest)]) {
      expect(rejection(decodeNotification(body, LIMIT))).toEqual({
        reason: 'schema',
        detail: 'event_type: Invalid input: expected string, received undefined',
      });
    }
  });

  it('rejects an unknown priority', () => {
    const r = rejection(decodeNotification(v2(message({ priority: 'LOUD' })), LIMIT));
    expect(r.reason).toBe('schema');
    expect(r.detail).toMatch(/^priority: Invalid option: expected one of "AUDIT"\|"DEBUG"\|"INFO"\|"WARN"/);
    expect(rejection(decodeNotification(v1(message({ priority: 3 })), LIMIT)).detail).toBe(
      'priority: Invalid input: expected string, received number',
    );
  });

  it('rejects timestamps that are not oslo timestamps', () => {
    for (const timestamp of [
      'yesterday',
      '2026-11-22T13:23:30.497700',
      '2026-11-22 13:23:30.497700+00:00',
      '2026-11-22 13:23:30.4977001',
      '2026-02-30 10:00:00',
      '2026-11-22 24:00:00',
      '',
    ]) {
      const r = rejection(decodeNotification(v1(message({ timestamp })), LIMIT));
      expect(r).toEqual({
        reason: 'schema',
        detail: `timestamp: expected an oslo UTC timestamp like "2026-11-22 13:23:30.497700", got ${JSON.stringify(timestamp)}`,
      });
    }
    expect(rejection(decodeNotification(v1(message({ timestamp: 1795353810 })), LIMIT)).detail).toBe(
      'timestamp: Invalid input: expected string, received number',
    );
  });

  it('rejects a message that is not a dict, or lacks message_id or payload', () => {
    expect(rejection(decodeNotification(Buffer.from('[1,2]'), LIMIT))).toEqual({
      reason: 'schema',
      detail: '(message): Invalid input: expected object, received array',
    });
    expect(rejection(decodeNotification(v2(42), LIMIT)).reason).toBe('schema');
    expect(rejection(decodeNotification(v1(message({ message_id: '' })), LIMIT)).detail).toMatch(/^message_id: /);
    const { payload: _dropped, ...rest } = message();
    expect(rejection(decodeNotification(v1(rest), LIMIT))).toEqual({
      reason: 'schema',
      detail: 'payload: payload is missing',
    });
  });

  it('keeps details short and free of the body', () => {
    const marker = 'SECRET-PAYLOAD-MARKER-'.repeat(50);
    const bad = [
      v1(message({ priority: 'LOUD', payload: { marker } })),
      v1(message({ timestamp: marker })),
      Buffer.from(`{"payload": "${marker}"`),
      Buffer.from(JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': `${marker}{` })),
    ];
    for (const body of bad) {
      const r = rejection(decodeNotification(body, LIMIT));
      expect(r.detail.length).toBeLessThanOrEqual(200);
      expect(r.detail).not.toContain(marker.slice(0, 60));
    }
  });
});

describe('parseOsloTimestamp', () => {
  it("reads Python's str(datetime) in both of its shapes as UTC", () => {
    expect(parseOsloTimestamp('2026-11-22 13:23:30.497700')).toBe(Date.parse('2026-11-22T13:23:30.497Z'));
    expect(parseOsloTimestamp('2026-11-22 13:23:30.000999')).toBe(Date.parse('2026-11-22T13:23:30.000Z'));
    expect(parseOsloTimestamp('2026-11-22 13:27:00')).toBe(Date.parse('2026-11-22T13:27:00Z'));
    expect(parseOsloTimestamp('2028-02-29 00:00:00')).toBe(Date.parse('2028-02-29T00:00:00Z'));
  });

  it('returns undefined for impossible dates and other formats', () => {
    for (const text of ['2026-02-29 00:00:00', '2026-13-01 00:00:00', '2026-11-22 13:60:00', '22/11/2026 13:23']) {
      expect(parseOsloTimestamp(text)).toBeUndefined();
    }
  });
});

/** parseOsloTimestamp as it was first written, with a RegExp and a Date round trip: the definition of the format. */
function referenceTimestamp(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const millis = Math.floor(Number((m[7] ?? '').padEnd(6, '0')) / 1000);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
  const same =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
  return same ? date.getTime() : undefined;
}

describe('parseOsloTimestamp against the RegExp definition', () => {
  it('agrees on every combination of edge dates, times and fractions', () => {
    const years = ['0000', '0099', '0100', '1900', '2000', '2024', '2026', '9999', '20x6'];
    const months = ['00', '01', '02', '04', '12', '13', '1'];
    const days = ['00', '01', '28', '29', '30', '31', '32'];
    const times = ['00:00:00', '23:59:59', '24:00:00', '23:60:00', '23:59:60', '1:00:00'];
    const fractions = ['', '.', '.5', '.0005', '.4977', '.497700', '.999999', '.4977001', '.x', ',5'];
    let accepted = 0;
    let checked = 0;
    for (const year of years)
      for (const month of months)
        for (const day of days)
          for (const time of times)
            for (const fraction of fractions) {
              const text = `${year}-${month}-${day} ${time}${fraction}`;
              const expected = referenceTimestamp(text);
              if (parseOsloTimestamp(text) !== expected) throw new Error(`disagree on ${JSON.stringify(text)}`);
              checked++;
              if (expected !== undefined) accepted++;
            }
    // Both verdicts occur many times over, so agreement means something.
    expect(checked).toBe(9 * 7 * 7 * 6 * 10);
    expect(accepted).toBeGreaterThan(1000);
    expect(checked - accepted).toBeGreaterThan(1000);
  });

  it('agrees on every one-character change of a real timestamp', () => {
    const base = '2026-11-22 13:23:30.497700';
    const replacements = ['0', '1', '2', '9', '-', ':', '.', ' ', 'a', '\n', '\u0663', '\uff10', ''];
    for (let i = 0; i <= base.length; i++) {
      for (const r of replacements) {
        for (const text of [base.slice(0, i) + r + base.slice(i + 1), base.slice(0, i) + r + base.slice(i)]) {
          expect([text, parseOsloTimestamp(text)]).toEqual([text, referenceTimestamp(text)]);
        }
      }
    }
  });
});

describe('readOsloMessage against osloMessageSchema', () => {
  const odd: unknown[] = [
    undefined,
    null,
    '',
    ' ',
    'x',
    0,
    1,
    true,
    [],
    {},
    ['INFO'],
    'info',
    'Warning',
    'warn ',
    // Dotless i: upper-cases to INFO, as the schema's transform does too.
    '\u0131nfo',
    'LOUD',
    '2026-11-22 13:23:30',
    '2026-02-30 00:00:00',
    '2026-11-22T13:23:30',
  ];
  const keys = ['message_id', 'publisher_id', 'event_type', 'priority', 'payload', 'timestamp', '_unique_id', 'extra'];

  function variants(): unknown[] {
    const out: unknown[] = [message(), null, [], 'text', 42, true, [message()]];
    for (const key of keys) {
      for (const value of odd) {
        const m = message();
        if (value === undefined) delete m[key];
        else m[key] = value;
        out.push(m);
      }
    }
    // What JSON.parse makes of hostile keys: own properties named __proto__ and constructor.
    out.push(
      JSON.parse(JSON.stringify(message()).replace('{', '{"__proto__": {"priority": "INFO"}, "constructor": 1,')),
    );
    const { priority: _p, ...noPriority } = message();
    out.push(JSON.parse(JSON.stringify(noPriority).replace('{', '{"__proto__": {"priority": "INFO"},')));
    return out;
  }

  it('accepts exactly what the schema accepts, with the same fields', () => {
    let accepted = 0;
    const all = variants();
    for (const candidate of all) {
      const fast = readOsloMessage(candidate);
      const slow = osloMessageSchema.safeParse(candidate);
      const label = JSON.stringify(candidate);
      expect([label, fast !== undefined]).toEqual([label, slow.success]);
      if (slow.success) {
        accepted++;
        const m = slow.data;
        expect(fast).toEqual({
          messageId: m.message_id,
          publisherId: m.publisher_id,
          eventType: m.event_type,
          priority: m.priority,
          payload: m.payload,
          timestamp: m.timestamp.text,
          timestampMs: m.timestamp.ms,
        });
      }
    }
    expect(accepted).toBeGreaterThan(40);
    expect(all.length - accepted).toBeGreaterThan(40);
  });
});
