/**
 * Owns the choice of Erlang node names for a stack. Names are unique per host, so a name registered with epmd (by
 * another stack or a hand-started node) or reserved by a stack still booting, in this process or another one, is
 * avoided. Reservations across processes are files created exclusively in one folder under the system's temporary
 * directory, holding the owner's pid: two test processes (or a test run and a demo) starting stacks at the same
 * moment both saw `rabbit1` free in epmd and one of them failed to boot with `duplicate_node_name`. A reservation
 * whose process is gone is taken over. Must not register anything with epmd itself.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { epmdNames } from './epmd.js';

/** The folder of reservations; overridable so tests do not share the host's. */
function reservations(): string {
  const dir = process.env.WARREN_NODE_NAMES_DIR ?? join(tmpdir(), 'warren-node-names');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is not ours to signal
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reserves `name` for this process; false when a live process holds it. */
function reserve(dir: string, name: string): boolean {
  const file = join(dir, name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSafe(file));
      if (owner && alive(owner)) return false;
      // stale: its process is gone
      unlinkSafe(file);
    }
  }
  return false;
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function unlinkSafe(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/**
 * Short names rabbit1..N when all are free, else rabbit1-<suffix>..rabbitN-<suffix> with one random suffix, so
 * callers can still tell the nodes apart by their prefix. Reserves the names until releaseNames().
 */
export async function chooseShortNames(count: number): Promise<string[]> {
  const dir = reservations();
  const registered = new Set((await epmdNames()) ?? []);
  const plain = Array.from({ length: count }, (_, i) => `rabbit${i + 1}`);
  const held: string[] = [];
  if (plain.every((n) => !registered.has(n))) {
    for (const n of plain) {
      if (!reserve(dir, n)) break;
      held.push(n);
    }
    if (held.length === count) return plain;
    releaseNames(held);
  }
  for (;;) {
    const suffix = randomBytes(3).toString('hex');
    const names = plain.map((n) => `${n}-${suffix}`);
    if (names.some((n) => registered.has(n))) continue;
    const got = names.filter((n) => reserve(dir, n));
    if (got.length === count) return names;
    releaseNames(got);
  }
}

export function releaseNames(names: string[]): void {
  const dir = reservations();
  for (const n of names) {
    if (Number(readFileSafe(join(dir, n))) === process.pid) unlinkSafe(join(dir, n));
  }
}
