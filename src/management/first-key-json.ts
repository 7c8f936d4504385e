/**
 * JSON whose top-level object may repeat a key, read with the first occurrence winning. RabbitMQ 4.0's management
 * API answers a stream's own stats (`/api/queues/{vhost}/{name}`) with `members`, `online` and `messages` twice once
 * a replica was removed (`rabbitmq-streams delete_replica`): first the queue record's values, which are current and
 * agree with `rabbitmqctl list_queues` and `rabbitmq-streams stream_status`, then those of stats the removed
 * replica left behind, which still list it (and double `messages`). `JSON.parse` keeps the last, stale one, and the
 * missing replica would never be seen. Only the top level is scanned by hand; each value is read by `JSON.parse`.
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

/**
 * Parses `text`; when it is an object, a key repeated at its top level keeps its first value. Anything else parses
 * as `JSON.parse` would. Throws ManagementApiError (no status) on text that is not JSON.
 */
export function parseFirstKeyWins(path: string, text: string): unknown {
  const malformed = () => new ManagementApiError(path, 200, `unexpected response from ${path}: not JSON`);
  let i = skipSpace(text, 0);
  if (text[i] !== '{') {
    try {
      return JSON.parse(text);
    } catch {
      throw malformed();
    }
  }
  const result: Record<string, unknown> = {};
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return result;
  for (;;) {
    const keyEnd = text[i] === '"' ? endOfString(text, i) : -1;
    if (keyEnd < 0) throw malformed();
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw malformed();
    const valueStart = skipSpace(text, i + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (valueEnd < 0) throw malformed();
    if (!Object.hasOwn(result, key)) {
      try {
        result[key] = JSON.parse(text.slice(valueStart, valueEnd));
      } catch {
        throw malformed();
      }
    }
    i = skipSpace(text, valueEnd);
    if (text[i] === '}') return result;
    if (text[i] !== ',') throw malformed();
    i = skipSpace(text, i + 1);
  }
}
