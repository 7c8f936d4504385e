/**
 * Owns the choice of Erlang node names for a stack. Names are unique per host, so a name registered with epmd (by
 * another stack or a hand-started node) or reserved by a stack of this process that is still booting is avoided.
 * Must not register anything with epmd itself.
 */

import { randomBytes } from 'node:crypto';

import { epmdNames } from './epmd.js';

// Names chosen by stacks of this process that may not be registered with epmd yet (their nodes are still booting).
const namesInUse = new Set<string>();

/**
 * Short names rabbit1..N when all are free, else rabbit1-<suffix>..rabbitN-<suffix> with one random suffix, so
 * callers can still tell the nodes apart by their prefix. Reserves the names until releaseNames().
 */
export async function chooseShortNames(count: number): Promise<string[]> {
  const taken = new Set([...((await epmdNames()) ?? []), ...namesInUse]);
  const plain = Array.from({ length: count }, (_, i) => `rabbit${i + 1}`);
  const suffix = randomBytes(3).toString('hex');
  const names = plain.every((n) => !taken.has(n)) ? plain : plain.map((n) => `${n}-${suffix}`);
  for (const n of names) namesInUse.add(n);
  return names;
}

export function releaseNames(names: string[]): void {
  for (const n of names) namesInUse.delete(n);
}
