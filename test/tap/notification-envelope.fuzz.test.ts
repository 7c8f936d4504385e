/**
 * Property-based fuzzing of the notification decoder (fast-check): random bytes, random JSON, and real oslo bodies
 * mutated field by field. Whatever arrives, decoding returns a result (never throws), a refusal names one of the
 * known reasons with a short detail that never echoes the body, and what it accepts yields facts without throwing.
 * Run counts are recorded in docs/reliability.md.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeNotification } from '../../src/tap/notification-envelope.js';
import { extractFacts } from '../../src/tap/notification-facts.js';

const LIMIT = { maxBytes: 64 * 1024 };
const REASONS = ['oversized', 'encoding', 'not_json', 'schema', 'envelope'];
const DECODER_RUNS = { bytes: 3_000, json: 3_000, mutated: 4_000 };

const fixture = (file: string) => readFileSync(new URL(`../fixtures/oslo/${file}`, import.meta.url), 'utf8');
const index = JSON.parse(fixture('index.json')) as Array<{ file: string; envelopeVersion: 1 | 2 }>;
/** The inner message dicts of every recorded body, and the envelope version each came in. */
const messages = index.map((entry) => {
  const wire = JSON.parse(fixture(entry.file)) as Record<string, unknown>;
  const inner = entry.envelopeVersion === 2 ? JSON.parse(wire['oslo.message'] as string) : wire;
  return { inner: inner as Record<string, unknown>, version: entry.envelopeVersion };
});

function decodesSafely(body: Buffer): void {
  const result = decodeNotification(body, LIMIT);
  if (result.ok) {
    expect(typeof result.notification.eventType).toBe('string');
    extractFacts(result.notification);
  } else {
    expect(REASONS).toContain(result.reason);
    expect(result.detail.length).toBeLessThanOrEqual(200);
    if (body.length > 64) expect(result.detail).not.toContain(body.toString('utf8'));
  }
}

/** A change to one field of a message: removed, or replaced by any JSON value. */
const mutation = fc.record({
  field: fc.constantFrom('message_id', 'publisher_id', 'event_type', 'priority', 'payload', 'timestamp', 'extra'),
  value: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
});

describe('notification decoder under fuzzing', () => {
  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_048 }), (bytes) => decodesSafely(Buffer.from(bytes))),
      { numRuns: DECODER_RUNS.bytes },
    );
  }, 60_000);

  it('never throws on random JSON, bare or in a v2 envelope', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (value, wrap) => {
        const body = wrap ? { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(value) } : value;
        decodesSafely(Buffer.from(JSON.stringify(body) ?? 'null'));
      }),
      { numRuns: DECODER_RUNS.json },
    );
  }, 60_000);

  it('refuses or accepts real oslo bodies with fields removed or replaced, and never throws', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...messages),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.constantFrom<1 | 2>(1, 2),
        ({ inner }, changes, version) => {
          const message: Record<string, unknown> = structuredClone(inner);
          for (const { field, value } of changes) {
            if (value === undefined) delete message[field];
            else message[field] = value;
          }
          const text = JSON.stringify(message);
          const body = version === 2 ? JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': text }) : text;
          decodesSafely(Buffer.from(body));
        },
      ),
      { numRuns: DECODER_RUNS.mutated },
    );
  }, 60_000);
});
