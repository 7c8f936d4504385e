/**
 * Owns the interaction with epmd, the Erlang port mapper shared by every Erlang node on the machine. The devstack
 * only ever kills an epmd that it started itself and that serves no node but its own: killing a shared epmd would
 * make every other node on the machine unreachable by name.
 */

import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const EPMD_CANDIDATES = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'];

export function epmdPath(): string {
  return EPMD_CANDIDATES.find((p) => existsSync(p)) ?? 'epmd';
}

// The client side of epmd honours ERL_EPMD_ADDRESS too; loopback is where the devstack's epmd listens.
const EPMD_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', ERL_EPMD_ADDRESS: '127.0.0.1' };

/** Registered short names, or undefined when no epmd answers on this machine. */
export function epmdNames(): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    execFile(epmdPath(), ['-names'], { env: EPMD_ENV, timeout: 10_000 }, (err, stdout) => {
      resolve(err ? undefined : parseNames(stdout));
    });
  });
}

export function epmdNamesSync(): string[] | undefined {
  try {
    return parseNames(execFileSync(epmdPath(), ['-names'], { env: EPMD_ENV, timeout: 5_000, encoding: 'utf8' }));
  } catch {
    return undefined;
  }
}

function parseNames(stdout: string): string[] {
  return [...stdout.matchAll(/^name (\S+) at port \d+/gm)].map((m) => m[1] as string);
}

/**
 * Names that do not keep epmd alive: our nodes, their boot-time helpers (`<node>_prelaunch_<pid>`), and the
 * short-lived CLI and epmd-starter nodes that Erlang tools register for a second (`rabbitmqcli-<n>-<x>`,
 * `epmd-starter-<n>`); those restart epmd by themselves when they need it.
 */
function onlyOurs(names: string[], ours: string[]): boolean {
  const transient = (n: string): boolean => n.startsWith('rabbitmqcli-') || n.startsWith('epmd-starter-');
  return names.every((n) => ours.includes(n) || ours.some((o) => n.startsWith(`${o}_prelaunch_`)) || transient(n));
}

export async function killEpmdIfUnused(ourShortNames: string[]): Promise<boolean> {
  const names = await epmdNames();
  if (names === undefined || !onlyOurs(names, ourShortNames)) return false;
  return new Promise((resolve) => {
    execFile(epmdPath(), ['-kill'], { env: EPMD_ENV, timeout: 10_000 }, (err) => resolve(!err));
  });
}

export function killEpmdIfUnusedSync(ourShortNames: string[]): void {
  const names = epmdNamesSync();
  if (names === undefined || !onlyOurs(names, ourShortNames)) return;
  try {
    execFileSync(epmdPath(), ['-kill'], { env: EPMD_ENV, timeout: 5_000, stdio: 'ignore' });
  } catch {
    // best effort: this runs in an exit handler
  }
}
