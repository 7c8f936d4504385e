/**
 * Erlang's external term format (what `term_to_binary` writes), read into the value the management API's JSON
 * would have given: the body of an `application/bert` answer (see ManagementClient's `bert` option).
 */

import { inflateSync } from 'node:zlib';
import { ErlangTermError } from '../errors.js';

/** The atom '' while a term is read: the broker's JSON turns it into null as a proplist value and "" elsewhere. */
const EMPTY_ATOM = Symbol('empty atom');

function atomValue(name: string): unknown {
  return name === 'true' ? true : name === 'false' ? false : name === 'null' ? null : name;
}

/** A tuple while a term is read: only 2-tuples of a proplist (a JSON object's members) mean something in JSON. */
class ErlangTuple {
  constructor(readonly items: unknown[]) {}
}

/**
 * Reads one Erlang external term (what `term_to_binary` writes, the body of an `application/bert` answer) into the
 * value `JSON.parse` gives for the broker's JSON answer to the same request. The JSON one is the same term after
 * `format_nulls` and jsx, which this mirrors: a list of 2-tuples (a proplist) is an object, `[{}]` an empty one,
 * any other list an array (a byte string too); a map is an object; a binary a string; true, false and null are
 * themselves, '' is null as a proplist value, and other atoms are strings. Pids, funs and tuples elsewhere cannot
 * be JSON, so the broker never sends them in a listing; they are refused here.
 */
class TermReader {
  pos = 1;
  private readonly atoms = new Map<number, string>();

  constructor(private readonly buf: Buffer) {}

  /** The next term, as an element of a list or map or as the whole answer. */
  value(): unknown {
    const term = this.term();
    if (term === EMPTY_ATOM) return '';
    if (term instanceof ErlangTuple) throw new ErlangTermError(`a tuple outside a proplist before byte ${this.pos}`);
    return term;
  }

  private term(): unknown {
    const buf = this.buf;
    const tag = buf[this.pos++];
    switch (tag) {
      case 97: // SMALL_INTEGER_EXT
        return buf[this.pos++];
      case 98: // INTEGER_EXT
        return this.advance(4, buf.readInt32BE(this.pos));
      case 70: // NEW_FLOAT_EXT
        return this.advance(8, buf.readDoubleBE(this.pos));
      case 99: // FLOAT_EXT, a float printed in 31 bytes
        return this.advance(31, Number.parseFloat(buf.toString('latin1', this.pos, this.pos + 31)));
      case 100: // ATOM_EXT
        return this.atom(this.u16(), 'latin1');
      case 115: // SMALL_ATOM_EXT
        return this.atom(buf[this.pos++] as number, 'latin1');
      case 118: // ATOM_UTF8_EXT
        return this.atom(this.u16(), 'utf8');
      case 119: // SMALL_ATOM_UTF8_EXT
        return this.atom(buf[this.pos++] as number, 'utf8');
      case 109: {
        // BINARY_EXT
        const length = this.u32();
        return this.advance(length, buf.toString('utf8', this.pos, this.pos + length));
      }
      case 106: // NIL_EXT
        return [];
      case 107: {
        // STRING_EXT: a list of bytes, which jsx writes as an array of numbers
        const length = this.u16();
        return this.advance(length, Array.from(buf.subarray(this.pos, this.pos + length)));
      }
      case 108: // LIST_EXT
        return this.list(this.u32());
      case 104: // SMALL_TUPLE_EXT
        return this.tuple(buf[this.pos++] as number);
      case 105: // LARGE_TUPLE_EXT
        return this.tuple(this.u32());
      case 116: // MAP_EXT
        return this.map(this.u32());
      case 110: // SMALL_BIG_EXT
        return this.big(buf[this.pos++] as number);
      case 111: // LARGE_BIG_EXT
        return this.big(this.u32());
      default:
        throw new ErlangTermError(`unsupported Erlang term (tag ${tag}) at byte ${this.pos - 1}`);
    }
  }

  private advance<T>(bytes: number, value: T): T {
    if (this.pos + bytes > this.buf.length) throw new ErlangTermError('a truncated Erlang term');
    this.pos += bytes;
    return value;
  }

  private u16(): number {
    return this.advance(2, this.buf.readUInt16BE(this.pos));
  }

  private u32(): number {
    return this.advance(4, this.buf.readUInt32BE(this.pos));
  }

  /**
   * Atoms repeat: every member name of every item is one. An ASCII atom read before is looked up by a hash of its
   * bytes and checked byte by byte, which halves the time a listing of 30,000 queues takes to read (to 50–80 ms,
   * two to three times what JSON.parse takes for the same listing in JSON).
   */
  private atom(length: number, encoding: 'latin1' | 'utf8'): unknown {
    if (length === 0) return EMPTY_ATOM;
    const buf = this.buf;
    const start = this.pos;
    let hash = length;
    let ascii = true;
    for (let i = start; i < start + length; i++) {
      const byte = buf[i] as number;
      hash = (hash * 31 + byte) | 0;
      if (byte > 127) ascii = false;
    }
    const cached = ascii ? this.atoms.get(hash) : undefined;
    if (cached !== undefined && cached.length === length) {
      let i = 0;
      while (i < length && cached.charCodeAt(i) === buf[start + i]) i++;
      if (i === length) return this.advance(length, atomValue(cached));
    }
    const name = this.advance(length, buf.toString(encoding, start, start + length));
    if (ascii) this.atoms.set(hash, name);
    return atomValue(name);
  }

  /** Little-endian digits; exact up to 2^53, like the double JSON.parse would give. */
  private big(digits: number): number {
    const negative = this.buf[this.pos++] === 1;
    let n = 0;
    for (let i = digits - 1; i >= 0; i--) n = n * 256 + (this.buf[this.pos + i] as number);
    return this.advance(digits, negative ? -n : n);
  }

  private tuple(arity: number): ErlangTuple {
    const items = new Array<unknown>(arity);
    for (let i = 0; i < arity; i++) items[i] = this.term();
    return new ErlangTuple(items);
  }

  /**
   * jsx decides by the first element: a tuple makes the list an object, so every element must be a pair. Pairs are
   * read in place, without a tuple each: a listing of 30,000 queues has half a million of them.
   */
  private list(length: number): unknown {
    let result: unknown;
    if (length > 0 && this.buf[this.pos] === 104) {
      const object: Record<string, unknown> = {};
      for (let i = 0; i < length; i++) this.member(object);
      result = object;
    } else {
      const items = new Array<unknown>(length);
      for (let i = 0; i < length; i++) items[i] = this.value();
      result = items;
    }
    if (this.buf[this.pos++] !== 106) throw new ErlangTermError('an improper list');
    return result;
  }

  private member(object: Record<string, unknown>): void {
    const arity = this.buf[this.pos + 1];
    if (this.buf[this.pos] !== 104 || (arity !== 2 && arity !== 0)) {
      throw new ErlangTermError(`a proplist with an element that is not a pair at byte ${this.pos}`);
    }
    this.pos += 2;
    if (arity === 0) return;
    const key = this.term();
    if (typeof key === 'object' && key !== null) {
      throw new ErlangTermError(`a proplist key that is neither an atom nor a string before byte ${this.pos}`);
    }
    const value = this.term();
    const name = key === EMPTY_ATOM ? '' : String(key);
    if (value instanceof ErlangTuple) throw new ErlangTermError(`a tuple as the value of ${name}`);
    object[name] = value === EMPTY_ATOM ? null : value;
  }

  private map(arity: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    for (let i = 0; i < arity; i++) {
      const key = this.value();
      object[String(key)] = this.value();
    }
    return object;
  }
}

/** One `term_to_binary` answer (version byte 131), compressed or not, as `JSON.parse` would give its JSON twin. */
export function decodeErlangTerm(buf: Buffer): unknown {
  if (buf[0] !== 131) throw new ErlangTermError('not an Erlang external term');
  if (buf[1] === 80) {
    // COMPRESSED: 4 bytes of uncompressed size, then zlib
    const inflated = inflateSync(buf.subarray(6));
    if (inflated.length !== buf.readUInt32BE(2))
      throw new ErlangTermError('a compressed Erlang term of the wrong size');
    return decodeErlangTerm(Buffer.concat([buf.subarray(0, 1), inflated]));
  }
  const reader = new TermReader(buf);
  const value = reader.value();
  if (reader.pos > buf.length) throw new ErlangTermError('a truncated Erlang term');
  if (reader.pos < buf.length) throw new ErlangTermError('bytes after the Erlang term');
  return value;
}
