/**
 * Owns the stack's base directory: creating or vetting it, the Erlang cookie in it, and the small state file that
 * marks it as a devstack directory. Must not start processes; never writes the cookie anywhere but its 0400 file.
 */

import { randomInt } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { LocalStackError } from './errors.js';
import type { Binaries } from './install.js';
import { findStackProcesses } from './processes.js';

/** Written into baseDir: marks the directory as a stack's, and remembers what only the starter knew. */
const STATE_FILE = '.warren-devstack.json';

export interface StackState {
  /** epmd was not running before this stack; stop() then kills it (if no foreign node registered meanwhile). */
  startedEpmd: boolean;
}

export function writeStackState(baseDir: string, state: StackState): void {
  writeFileSync(join(baseDir, STATE_FILE), `${JSON.stringify(state)}\n`, { mode: 0o644 });
}

export function readStackState(baseDir: string): StackState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(baseDir, STATE_FILE), 'utf8')) as Partial<StackState>;
    return { startedEpmd: parsed.startedEpmd === true };
  } catch {
    return undefined;
  }
}

/**
 * A caller-chosen baseDir must be empty or a previous stack's dead remains: the stack removes baseDir on stop, so
 * anything else in it would be lost. Returns the real path: processes report their working directory resolved.
 */
export function prepareBaseDir(requested: string | undefined): string {
  let dir: string;
  if (requested === undefined) {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warren-stack-')));
  } else if (existsSync(requested)) {
    dir = realpathSync(requested);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      if (!entries.includes(STATE_FILE)) {
        throw new LocalStackError(
          'warren_devstack_base_dir_in_use',
          `${dir} is not empty and is not a previous devstack directory; stop() would delete it, choose another`,
        );
      }
      if (findStackProcesses(dir).length > 0) {
        throw new LocalStackError(
          'warren_devstack_base_dir_in_use',
          `a stack is still running in ${dir}; attach to it or stop it first`,
        );
      }
      for (const entry of entries) rmSync(join(dir, entry), { recursive: true, force: true });
    }
  } else {
    mkdirSync(resolve(requested), { recursive: true });
    dir = realpathSync(requested);
  }
  // mkdtemp makes it 0700; the rabbitmq user must traverse it (its own subdirectories are chowned to it)
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * The rabbitmq user must reach its files: every ancestor of baseDir needs the search bit for it. A baseDir under
 * /root (mode 700) is the usual way to get this wrong; fail with a clear message instead of a node that cannot boot.
 */
export function checkTraversable(baseDir: string, runAs: NonNullable<Binaries['runAs']>): void {
  for (let dir = dirname(baseDir); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const searchable =
      (st.mode & 0o001) !== 0 ||
      (st.uid === runAs.uid && (st.mode & 0o100) !== 0) ||
      (st.gid === runAs.gid && (st.mode & 0o010) !== 0);
    if (!searchable) {
      throw new LocalStackError(
        'warren_devstack_start_failed',
        `${dir} is not searchable by the ${runAs.user} user, so RabbitMQ cannot reach ${baseDir}; use a baseDir under /tmp`,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

/** A fresh random cookie per stack, so no other Erlang node on the machine can talk to ours (nor ours to them). */
export function writeCookie(cookieHome: string, runAs: Binaries['runAs']): void {
  mkdirSync(cookieHome, { mode: 0o700 });
  const cookiePath = join(cookieHome, '.erlang.cookie');
  let cookie = '';
  for (let i = 0; i < 32; i++) cookie += String.fromCharCode(65 + randomInt(26));
  writeFileSync(cookiePath, cookie, { mode: 0o400 });
  if (runAs) {
    chownSync(cookiePath, runAs.uid, runAs.gid);
    chownSync(cookieHome, runAs.uid, runAs.gid);
  }
}

/** For attachLocalStack as root: the nodes run as whoever owns the cookie's directory (set up by startLocalStack). */
export function runAsOwnerOf(cookieHome: string): Binaries['runAs'] {
  const st = statSync(cookieHome);
  if (st.uid === 0) return undefined;
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? 'setpriv';
  return { setpriv, user: `uid ${st.uid}`, uid: st.uid, gid: st.gid };
}
