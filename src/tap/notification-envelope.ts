/**
 * Decodes one oslo.messaging notification body, exactly as it came off RabbitMQ, into a typed notification or a
 * classified rejection. It owns the wire format: the v2 envelope of driver `messagingv2`
 * (`{"oslo.version": "2.0", "oslo.message": "<JSON string>"}`), the bare v1 dict of driver `messaging`, and the
 * fields oslo's Notifier puts in every message. It is pure: no I/O, no logging, no clock, and it never throws on any
 * input, because a single hostile message must not stop the tap. What the payload means is notification-facts.ts's
 * business, not this module's.
 */
import { z } from 'zod';

export const PRIORITIES = ['AUDIT', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SAMPLE'] as const;
export type Priority = (typeof PRIORITIES)[number];

export type InvalidReason = 'oversized' | 'encoding' | 'not_json' | 'schema' | 'envelope';

export interface OsloNotification {
  messageId: string;
  publisherId: string;
  eventType: string;
  priority: Priority;
  /** Any JSON value; usually an object, but oslo sends whatever the service passed (even null). */
  payload: unknown;
  /** As sent: `str(datetime)` of a naive UTC datetime, e.g. "2026-11-22 13:23:30.497700". */
  timestamp: string;
  /** `timestamp` as epoch milliseconds, read as UTC (sub-millisecond digits dropped). */
  timestampMs: number;
  /** 2 for the `messagingv2` envelope, 1 for the bare dict of driver `messaging`. */
  envelopeVersion: 1 | 2;
  /** The `_context_*` keys with the prefix removed (the sanitised request context of the sender). */
  context: Record<string, unknown>;
  /** The message dict as sent (inside the envelope for v2), unknown fields included. */
  raw: Record<string, unknown>;
}

export type DecodeResult =
  | { ok: true; notification: OsloNotification }
  | { ok: false; reason: InvalidReason; detail: string };

export interface DecodeOptions {
  /** Bodies longer than this many bytes are rejected before any decoding work. */
  maxBytes: number;
}

const VERSION_KEY = 'oslo.version';
const MESSAGE_KEY = 'oslo.message';
const CONTEXT_PREFIX = '_context_';
// `detail` ends up in logs and chat; it describes the problem and must never carry the body along.
const MAX_DETAIL = 200;

// oslo's `str(timeutils.utcnow())`: Python prints no fractional part at all when microsecond == 0, so both
// "2026-11-22 13:27:00" and "2026-11-22 13:27:00.000002" are real. There is no zone: it is UTC by convention.
const OSLO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Epoch milliseconds of an oslo notification timestamp, or undefined if it is not one (including impossible dates). */
export function parseOsloTimestamp(text: string): number | undefined {
  const m = OSLO_TIMESTAMP.exec(text);
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
  // Date.UTC silently rolls 2026-02-30 over to March; a value that does not survive the round trip is garbage.
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    date.getUTCHours() !== hour ||
    date.getUTCMinutes() !== minute ||
    date.getUTCSeconds() !== second
  ) {
    return undefined;
  }
  return date.getTime();
}

const prioritySchema = z
  .string()
  // oslo's Notifier sends upper case and lower-cases only the routing key, but other emitters are sloppier; and
  // `Notifier.warning` is an alias that still sends 'WARN', so 'WARNING' only comes from non-oslo senders.
  .transform((p) => {
    const upper = p.toUpperCase();
    return upper === 'WARNING' ? 'WARN' : upper;
  })
  .pipe(z.enum(PRIORITIES));

const timestampSchema = z.string().transform((text, ctx) => {
  const ms = parseOsloTimestamp(text);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an oslo UTC timestamp like "2026-11-22 13:23:30.497700", got ${JSON.stringify(text.slice(0, 40))}`,
    });
    return z.NEVER;
  }
  return { text, ms };
});

// Loose: oslo adds `_unique_id` and the `_context_*` keys, and newer releases may add more; unknown keys are kept.
const messageSchema = z.looseObject({
  // uuid4 in practice; only non-emptiness is required so that a foreign-but-harmless id does not cost a message.
  message_id: z.string().min(1),
  // `publisher_id or self.publisher_id` in Notifier._notify: a Notifier built without one sends null.
  publisher_id: z
    .string()
    .nullable()
    .transform((p) => p ?? ''),
  event_type: z.string().min(1),
  priority: prioritySchema,
  // Any JSON value, null included, but the key itself is always sent.
  payload: z.unknown().refine((p) => p !== undefined, 'payload is missing'),
  timestamp: timestampSchema,
  _unique_id: z.string().optional(),
});

function fail(reason: InvalidReason, detail: string): DecodeResult {
  return { ok: false, reason, detail: detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL - 1)}…` : detail };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  return `${path === '' ? '(message)' : path}: ${issue.message}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// The fatal decoder rejects invalid UTF-8 instead of replacing it with U+FFFD, which would silently corrupt text.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a notification body. Checks run from cheapest to dearest: size, UTF-8, JSON, envelope, schema; the first
 * failure is the reason returned.
 */
export function decodeNotification(body: Buffer, options: DecodeOptions): DecodeResult {
  if (body.length > options.maxBytes) {
    return fail('oversized', `body is ${body.length} bytes, limit is ${options.maxBytes}`);
  }

  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return fail('encoding', 'body is not valid UTF-8');
  }

  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch (err) {
    return fail('not_json', `body is not JSON: ${errorMessage(err)}`);
  }

  let message: unknown = outer;
  let envelopeVersion: 1 | 2 = 1;
  // oslo (common.deserialize_msg) treats a dict holding both keys as an envelope and anything else as a bare
  // message. One key without the other is a broken envelope rather than a v1 message, so it is reported as such.
  if (isRecord(outer) && (VERSION_KEY in outer || MESSAGE_KEY in outer)) {
    const version = outer[VERSION_KEY];
    const inner = outer[MESSAGE_KEY];
    if (typeof version !== 'string') return fail('envelope', `${VERSION_KEY} must be a string`);
    // Same major version only, like oslo's version_is_compatible; oslo also refuses a newer minor, but a 2.x
    // sender is meant to stay readable, so any 2.x is accepted here.
    if (!/^2\.\d+(\.\d+)?$/.test(version)) {
      return fail('envelope', `unsupported ${VERSION_KEY} ${JSON.stringify(version.slice(0, 20))}`);
    }
    if (typeof inner !== 'string') return fail('envelope', `${MESSAGE_KEY} must be a string holding JSON`);
    try {
      message = JSON.parse(inner);
    } catch (err) {
      return fail('envelope', `${MESSAGE_KEY} is not JSON: ${errorMessage(err)}`);
    }
    envelopeVersion = 2;
  }

  const parsed = messageSchema.safeParse(message);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    return fail('schema', first ? describeIssue(first) : 'message does not match the oslo notification schema');
  }
  // The schema accepted an object, so `message` is one; `raw` is the message as sent, not zod's reshaped copy.
  const raw = message as Record<string, unknown>;
  const m = parsed.data;
  return {
    ok: true,
    notification: {
      messageId: m.message_id,
      publisherId: m.publisher_id,
      eventType: m.event_type,
      priority: m.priority,
      payload: m.payload,
      timestamp: m.timestamp.text,
      timestampMs: m.timestamp.ms,
      envelopeVersion,
      // fromEntries defines own properties, so a hostile `_context___proto__` key cannot reach the prototype.
      context: Object.fromEntries(
        Object.entries(raw)
          .filter(([key]) => key.startsWith(CONTEXT_PREFIX) && key.length > CONTEXT_PREFIX.length)
          .map(([key, value]) => [key.slice(CONTEXT_PREFIX.length), value]),
      ),
      raw,
    },
  };
}
