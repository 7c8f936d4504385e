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

/** A decoded notification: the message's fields (OsloMessageFields) and where they came from. */
export interface OsloNotification extends OsloMessageFields {
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
// The shape is YYYY-MM-DD HH:MM:SS, optionally followed by "." and one to six digits.
const TIMESTAMP_BASE_LENGTH = 19;
const TIMESTAMP_MAX_LENGTH = 26;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The value of the ASCII digits text[start..end), or -1 if any of them is not one. */
function digitsAt(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Epoch milliseconds of an oslo notification timestamp, or undefined if it is not one (including impossible dates).
 * Runs for every event, so it reads the digits by hand instead of through a RegExp and a Date object.
 */
export function parseOsloTimestamp(text: string): number | undefined {
  const length = text.length;
  if (length !== TIMESTAMP_BASE_LENGTH && (length < TIMESTAMP_BASE_LENGTH + 2 || length > TIMESTAMP_MAX_LENGTH)) {
    return undefined;
  }
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 32 /* space */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    (length > TIMESTAMP_BASE_LENGTH && text.charCodeAt(TIMESTAMP_BASE_LENGTH) !== 46) /* . */
  ) {
    return undefined;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = digitsAt(text, 17, 19);
  // Sub-millisecond digits are dropped: ".4977" is 497 ms, ".5" is 500 ms.
  let millis = 0;
  if (length > TIMESTAMP_BASE_LENGTH) {
    const fraction = digitsAt(text, TIMESTAMP_BASE_LENGTH + 1, length);
    if (fraction < 0) return undefined;
    millis = Math.floor((fraction * 10 ** (TIMESTAMP_MAX_LENGTH - length)) / 1000);
  }
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined;
  // Date.UTC reads years 0-99 as 1900-1999, which no oslo sender means: such a timestamp is garbage, as is
  // 2026-02-30 (which Date.UTC would roll over to March), rejected just above.
  if (year < 100) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

/**
 * oslo's Notifier sends upper case and lower-cases only the routing key, but other emitters are sloppier; and
 * `Notifier.warning` is an alias that still sends 'WARN', so 'WARNING' only comes from non-oslo senders.
 */
function normalisePriority(priority: string): string {
  const upper = priority.toUpperCase();
  return upper === 'WARNING' ? 'WARN' : upper;
}

const KNOWN_PRIORITIES: ReadonlySet<string> = new Set(PRIORITIES);

const prioritySchema = z.string().transform(normalisePriority).pipe(z.enum(PRIORITIES));

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

/**
 * The oslo message dict. Loose: oslo adds `_unique_id` and the `_context_*` keys, and newer releases may add more;
 * unknown keys are kept. This schema is the definition of a valid message: readOsloMessage is a faster reading of
 * the same rules, and the schema is what explains a rejection.
 */
export const osloMessageSchema = z.looseObject({
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

/** The fields of a valid message, as osloMessageSchema returns them. */
export interface OsloMessageFields {
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
}

/**
 * The fields of a message osloMessageSchema accepts, or undefined for any message it would reject. Every event goes
 * through here, and zod's safeParse costs several microseconds and a copy of the message per call; this reads the
 * same rules by hand (the tests hold the two to the same verdicts). It never explains a rejection: the caller asks
 * the schema for that, so the reasons and details reported stay the schema's.
 */
export function readOsloMessage(message: unknown): OsloMessageFields | undefined {
  if (!isRecord(message)) return undefined;
  const { message_id: messageId, publisher_id: publisherId, event_type: eventType, priority, timestamp } = message;
  if (typeof messageId !== 'string' || messageId.length === 0) return undefined;
  if (typeof publisherId !== 'string' && publisherId !== null) return undefined;
  if (typeof eventType !== 'string' || eventType.length === 0) return undefined;
  if (typeof priority !== 'string') return undefined;
  const normalised = normalisePriority(priority);
  if (!KNOWN_PRIORITIES.has(normalised)) return undefined;
  if (message.payload === undefined) return undefined;
  if (typeof timestamp !== 'string') return undefined;
  const timestampMs = parseOsloTimestamp(timestamp);
  if (timestampMs === undefined) return undefined;
  const uniqueId = message._unique_id;
  if (uniqueId !== undefined && typeof uniqueId !== 'string') return undefined;
  return {
    messageId,
    publisherId: publisherId ?? '',
    eventType,
    priority: normalised as Priority,
    payload: message.payload,
    timestamp,
    timestampMs,
  };
}

function fail<R extends InvalidReason>(reason: R, detail: string): { ok: false; reason: R; detail: string } {
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

/** The `_context_*` keys of the message with the prefix removed. */
function contextOf(raw: Record<string, unknown>): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (key.length <= CONTEXT_PREFIX.length || !key.startsWith(CONTEXT_PREFIX)) continue;
    const name = key.slice(CONTEXT_PREFIX.length);
    if (name === '__proto__') {
      // Assigning a hostile `_context___proto__` would replace the prototype; defining keeps it an own property.
      Object.defineProperty(context, name, { value: raw[key], enumerable: true, writable: true, configurable: true });
    } else {
      context[name] = raw[key];
    }
  }
  return context;
}

// The fatal decoder rejects invalid UTF-8 instead of replacing it with U+FFFD, which would silently corrupt text.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const SUPPORTED_VERSION = /^2\.\d+(\.\d+)?$/;

/** The oslo message dict inside a body (any oslo message: a notification, an RPC call or cast, a reply). */
export type EnvelopeResult =
  | { ok: true; message: unknown; envelopeVersion: 1 | 2 }
  | { ok: false; reason: Exclude<InvalidReason, 'schema'>; detail: string };

/**
 * Opens a body as oslo.messaging wrote it: size, UTF-8, JSON, then the v2 envelope if there is one (else the body
 * is the bare v1 dict). What the message inside means is the caller's business: decodeNotification reads a
 * notification from it, `/rabbit peek` shows any oslo message.
 */
export function openEnvelope(body: Buffer, options: DecodeOptions): EnvelopeResult {
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

  // oslo (common.deserialize_msg) treats a dict holding both keys as an envelope and anything else as a bare
  // message. One key without the other is a broken envelope rather than a v1 message, so it is reported as such.
  if (!isRecord(outer) || !(VERSION_KEY in outer || MESSAGE_KEY in outer)) {
    return { ok: true, message: outer, envelopeVersion: 1 };
  }
  const version = outer[VERSION_KEY];
  const inner = outer[MESSAGE_KEY];
  if (typeof version !== 'string') return fail('envelope', `${VERSION_KEY} must be a string`);
  // Same major version only, like oslo's version_is_compatible; oslo also refuses a newer minor, but a 2.x
  // sender is meant to stay readable, so any 2.x is accepted here.
  if (version !== '2.0' && !SUPPORTED_VERSION.test(version)) {
    return fail('envelope', `unsupported ${VERSION_KEY} ${JSON.stringify(version.slice(0, 20))}`);
  }
  if (typeof inner !== 'string') return fail('envelope', `${MESSAGE_KEY} must be a string holding JSON`);
  try {
    return { ok: true, message: JSON.parse(inner), envelopeVersion: 2 };
  } catch (err) {
    return fail('envelope', `${MESSAGE_KEY} is not JSON: ${errorMessage(err)}`);
  }
}

/**
 * Decodes a notification body. Checks run from cheapest to dearest: size, UTF-8, JSON, envelope, schema; the first
 * failure is the reason returned.
 */
export function decodeNotification(body: Buffer, options: DecodeOptions): DecodeResult {
  const opened = openEnvelope(body, options);
  if (!opened.ok) return opened;
  const { message, envelopeVersion } = opened;

  let fields = readOsloMessage(message);
  if (fields === undefined) {
    const parsed = osloMessageSchema.safeParse(message);
    if (!parsed.success) {
      const [first] = parsed.error.issues;
      return fail('schema', first ? describeIssue(first) : 'message does not match the oslo notification schema');
    }
    // Unreachable while readOsloMessage and the schema agree (the tests hold them to it); should they ever
    // disagree, the schema has the last word, so a valid message is never lost to the fast path.
    const m = parsed.data;
    fields = {
      messageId: m.message_id,
      publisherId: m.publisher_id,
      eventType: m.event_type,
      priority: m.priority,
      payload: m.payload,
      timestamp: m.timestamp.text,
      timestampMs: m.timestamp.ms,
    };
  }
  // The message was accepted, so it is an object; `raw` is the message as sent, unknown fields included.
  const raw = message as Record<string, unknown>;
  return {
    ok: true,
    notification: {
      messageId: fields.messageId,
      publisherId: fields.publisherId,
      eventType: fields.eventType,
      priority: fields.priority,
      payload: fields.payload,
      timestamp: fields.timestamp,
      timestampMs: fields.timestampMs,
      envelopeVersion,
      context: contextOf(raw),
      raw,
    },
  };
}
