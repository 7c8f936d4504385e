/**
 * Owns low-level process bookkeeping for the devstack: liveness, ownership and sweeping by the stack's marker.
 * Every process the stack starts carries MARKER_ENV=<baseDir> in its environment, and only processes proven to carry
 * it (or baseDir in their command line) are ever signalled, so a recycled pid or someone else's RabbitMQ is never hit.
 * Linux-only (/proc). Must not start processes.
 */

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export const MARKER_ENV = 'WARREN_DEVSTACK_BASE_DIR';

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user (our rabbitmq nodes when we are not root cannot happen, but be safe)
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A zombie has finished; its parent just did not reap it yet.
  return procState(pid) !== 'Z';
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

export function procComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readNulSeparated(path: string): string[] | undefined {
  try {
    return readFileSync(path, 'latin1').split('\0');
  } catch {
    return undefined;
  }
}

const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`);

/**
 * True when the process carries this stack's marker in its environment, runs in a directory under baseDir, or has
 * baseDir in its command line. The working directory matters for redis: its proctitle overwrites both its command
 * line and its environment block.
 */
export function belongsTo(pid: number, baseDir: string): boolean {
  const env = readNulSeparated(`/proc/${pid}/environ`);
  if (env?.includes(`${MARKER_ENV}=${baseDir}`)) return true;
  try {
    // a process whose directory was removed under it reports "<dir> (deleted)"
    if (isUnder(readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, ''), baseDir)) return true;
  } catch {
    // gone, or not ours to inspect
  }
  const cmdline = readNulSeparated(`/proc/${pid}/cmdline`);
  return cmdline?.some((arg) => isUnder(arg, baseDir) || arg.includes(` ${baseDir}/`)) ?? false;
}

/**
 * Live processes of the stack, except epmd: epmd is shared by every Erlang node of the machine and inherits the
 * environment of whichever node started it, so it is handled apart (see epmd.ts).
 */
export function findStackProcesses(baseDir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || !belongsTo(pid, baseDir)) continue;
    if (procComm(pid) === 'epmd' || !isAlive(pid)) continue;
    pids.push(pid);
  }
  return pids;
}

export function killIfOurs(pid: number | undefined, baseDir: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (pid === undefined || !isAlive(pid) || !belongsTo(pid, baseDir)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(stepMs);
  }
}

export function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  return waitUntil(() => !isAlive(pid), timeoutMs);
}

/** SIGKILLs every remaining process of the stack and waits for them to be gone; returns what was still there. */
export async function sweep(baseDir: string, timeoutMs = 5_000): Promise<number[]> {
  const found = findStackProcesses(baseDir);
  for (const pid of found) killIfOurs(pid, baseDir);
  await waitUntil(() => found.every((pid) => !isAlive(pid)), timeoutMs);
  return found;
}

export function sweepSync(baseDir: string): void {
  for (const pid of findStackProcesses(baseDir)) killIfOurs(pid, baseDir);
}

/** Last lines of a log file, for error messages; '' when it does not exist. */
export function tailFile(path: string, lines = 20): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
