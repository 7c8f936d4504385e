/**
 * JSON whose top-level object may repeat a key, read so that the repetition is seen. RabbitMQ 4.0.5's management API
 * answers a stream's own stats (`/api/queues/{vhost}/{name}`) with `members`, `online` and `messages` twice once a
 * replica was removed or added with `rabbitmq-streams` and the stream has readers: two stats entries, each frozen at
 * a different moment (after `delete_replica` the first is current; after the `add_replica` that follows, the second
 * is). `JSON.parse` silently keeps the last, so the answer looks certain when it is not. Here the first value is
 * kept and the keys that came again with another value are named, so the caller can ask the broker itself
 * (`rabbitmq-streams stream_status`). Only the top level is scanned by hand; each value is read by `JSON.parse`.
 */
import { ManagementApiError } from '../errors.js';

const OPENERS: Record<string, string> = { '{': '}', '[': ']' };

/** The index just past the JSON string starting at `start` (a `"`). */
function endOfString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return -1;
}

/** The index just past the JSON value starting at `start`. */
function endOfValue(text: string, start: number): number {
  const first = text[start] as string;
  if (first === '"') return endOfString(text, start);
  if (!(first in OPENERS)) {
    let i = start;
    while (i < text.length && !/[,}\]\s]/.test(text[i] as string)) i++;
    return i;
  }
  const stack: string[] = [];
  for (let i = start; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      i = endOfString(text, i) - 1;
      if (i < 0) return -1;
    } else if (c in OPENERS) stack.push(OPENERS[c] as string);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

const skipSpace = (text: string, i: number) => {
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  return i;
};

/** A parsed answer: its first values, and the top-level keys that came again with a different value. */
export interface RepeatedKeysJson {
  value: unknown;
  repeated: string[];
}

/**
 * Parses `text`; when it is an object, a key repeated at its top level keeps its first value and is named in
 * `repeated` if a later value differs. Anything else parses as `JSON.parse` would. Throws ManagementApiError on text
 * that is not JSON.
 */
export function parseRepeatedKeys(path: string, text: string): RepeatedKeysJson {
  const malformed = () => new ManagementApiError(path, 200, `unexpected response from ${path}: not JSON`);
  let i = skipSpace(text, 0);
  if (text[i] !== '{') {
    try {
      return { value: JSON.parse(text), repeated: [] };
    } catch {
      throw malformed();
    }
  }
  const result: Record<string, unknown> = {};
  const repeated = new Set<string>();
  const done = () => ({ value: result, repeated: [...repeated] });
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return done();
  for (;;) {
    const keyEnd = text[i] === '"' ? endOfString(text, i) : -1;
    if (keyEnd < 0) throw malformed();
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw malformed();
    const valueStart = skipSpace(text, i + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (valueEnd < 0) throw malformed();
    let value: unknown;
    try {
      value = JSON.parse(text.slice(valueStart, valueEnd));
    } catch {
      throw malformed();
    }
    if (!Object.hasOwn(result, key)) result[key] = value;
    else if (JSON.stringify(result[key]) !== JSON.stringify(value)) repeated.add(key);
    i = skipSpace(text, valueEnd);
    if (text[i] === '}') return done();
    if (text[i] !== ',') throw malformed();
    i = skipSpace(text, i + 1);
  }
}
