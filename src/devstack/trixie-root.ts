/**
 * Owns the Debian trixie root filesystem that RabbitMQ 4.0 (Erlang 27) and oslo.messaging 16 run from: building it
 * once with mmdebstrap, caching it between runs, and the mounts a process inside it needs (/proc, /dev, /dev/shm, and
 * each stack's base directory at the same path as outside). Bookworm's libc is too old for trixie's Erlang, hence a
 * chroot rather than packages on the machine. Must not start RabbitMQ (local-stack.ts does), must never unmount what
 * a process still inside the root needs, and must leave no mount behind once the last stack using the root stops.
 */

import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

import { LocalStackError } from './errors.js';
import { run, tail } from './install.js';

/** What the root holds; changing this list rebuilds cached roots (the marker records it). */
export const TRIXIE_PACKAGES = [
  'rabbitmq-server',
  'python3-oslo.messaging',
  'python3-pika',
  'curl',
  'procps',
  'util-linux',
] as const;

const READY_MARKER = '.warren-root-ready';

/** The cached root: WARREN_TRIXIE_ROOT, or a folder under /var/cache that the rabbitmq user can traverse. */
export function trixieRootDir(): string {
  return process.env.WARREN_TRIXIE_ROOT || '/var/cache/warren/trixie-root';
}

function readyMarker(): string {
  return `${TRIXIE_PACKAGES.join(' ')}\n`;
}

export function isTrixieRootReady(root: string): boolean {
  try {
    return readFileSync(join(root, READY_MARKER), 'utf8') === readyMarker();
  } catch {
    return false;
  }
}

/**
 * The Debian archive this machine's apt already uses (its bookworm source), so the root comes from the same mirror
 * and nothing here names a host. Reads deb822 `.sources` files and one-line `sources.list` entries.
 */
export function debianArchiveOfMachine(): string | undefined {
  const texts: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  try {
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.sources') || name.endsWith('.list')) texts.push(readFileSync(join(dir, name), 'utf8'));
    }
  } catch {
    // no such folder
  }
  try {
    texts.push(readFileSync('/etc/apt/sources.list', 'utf8'));
  } catch {
    // no such file
  }
  return archiveFromSources(texts);
}

/** The URI of a source serving a plain Debian suite (not -security or -updates); exported for its unit test. */
export function archiveFromSources(texts: string[]): string | undefined {
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uris && suites.some((s) => /^(bookworm|trixie|stable)$/.test(s))) return uris;
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(bookworm|trixie|stable)\s/.exec(line.trim());
      if (m) return m[1];
    }
  }
  return undefined;
}

/**
 * Returns the ready root, building it when missing and allowed (root on Debian). The build goes to a sibling folder
 * that is renamed into place when complete, so an interrupted build never looks ready.
 */
export async function ensureTrixieRoot(opts: { install: boolean; log: (line: string) => void }): Promise<string> {
  const root = trixieRootDir();
  if (isTrixieRootReady(root)) return root;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!opts.install || !isRoot || !existsSync('/etc/debian_version')) {
    throw new LocalStackError(
      'warren_devstack_missing_binaries',
      `RabbitMQ 4.0 runs from a Debian trixie root at ${root}, which is missing; as root on Debian the devstack ` +
        `builds it (mmdebstrap, about a minute), or set WARREN_TRIXIE_ROOT to a ready one`,
    );
  }
  const archive = debianArchiveOfMachine();
  if (!archive) {
    throw new LocalStackError(
      'warren_devstack_install_failed',
      'cannot build the trixie root: no Debian archive found in this machine’s apt sources',
    );
  }
  if (!existsSync('/usr/bin/mmdebstrap')) {
    opts.log('installing mmdebstrap with apt-get');
    for (const args of [['update'], ['install', '-y', 'mmdebstrap']]) {
      const { code, output } = await run('apt-get', args, { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
      if (code !== 0) {
        throw new LocalStackError(
          'warren_devstack_install_failed',
          `apt-get ${args.join(' ')} failed (exit ${code}):\n${tail(output)}`,
        );
      }
    }
  }
  const building = `${root}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(dirname(root), { recursive: true, mode: 0o755 });
  opts.log(`building the Debian trixie root for RabbitMQ 4.0 in ${root} (about a minute, once)`);
  const started = Date.now();
  const { code, output } = await run(
    'mmdebstrap',
    ['--variant=apt', `--include=${TRIXIE_PACKAGES.join(',')}`, 'trixie', building, `deb ${archive} trixie main`],
    { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  );
  if (code !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new LocalStackError('warren_devstack_install_failed', `mmdebstrap failed (exit ${code}):\n${tail(output)}`);
  }
  // the nodes resolve `localhost`; the root's own files may lack it
  copyFileSync('/etc/hosts', join(building, 'etc', 'hosts'));
  writeFileSync(join(building, READY_MARKER), readyMarker());
  if (existsSync(root)) {
    // another process finished first, or a stale root with an old package list: keep a ready one, replace the rest
    if (isTrixieRootReady(root)) {
      rmSync(building, { recursive: true, force: true });
      return root;
    }
    if (mountsUnder(root).length > 0) {
      throw new LocalStackError(
        'warren_devstack_install_failed',
        `${root} is outdated but still mounted; stop its stacks`,
      );
    }
    rmSync(root, { recursive: true, force: true });
  }
  renameSync(building, root);
  opts.log(`trixie root ready in ${Math.round((Date.now() - started) / 1000)} s`);
  return root;
}

/** Mount points at or under `dir`, from this process's mount table, deepest first. */
export function mountsUnder(dir: string): string[] {
  let table = '';
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = table
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes spaces and the like as octal
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
}

function umount(point: string): void {
  try {
    execFileSync('umount', [point], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
  } catch {
    // busy: detach it now, the kernel frees it once its last user is gone
    execFileSync('umount', ['-l', point], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000 });
  }
}

const SYSTEM_MOUNTS = ['proc', 'dev', 'dev/shm'] as const;

/** /proc, /dev and /dev/shm (oslo's queue manager keeps its counters there), each mounted once per root. */
function mountSystem(root: string): void {
  const present = new Set(mountsUnder(root));
  for (const rel of SYSTEM_MOUNTS) {
    const point = join(root, rel);
    if (present.has(point)) continue;
    mkdirSync(point, { recursive: true });
    if (rel === 'proc') mount(['-t', 'proc', 'proc', point]);
    else mount(['--bind', `/${rel}`, point]);
  }
}

/** Makes `baseDir` visible inside the root at the same path, so every path the stack writes means the same inside. */
export function attachBaseDir(root: string, baseDir: string): void {
  try {
    mountSystem(root);
    const point = join(root, baseDir);
    if (!mountsUnder(point).includes(point)) {
      mkdirSync(point, { recursive: true });
      mount(['--bind', baseDir, point]);
    }
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new LocalStackError(
      'warren_devstack_start_failed',
      `cannot mount into the trixie root ${root}: ${stderr || (err as Error).message}`,
    );
  }
}

/** Pids whose root directory is `root`: processes still running inside it. */
export function processesInside(root: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/root`) === root) pids.push(Number(entry));
    } catch {
      // gone, or not ours to inspect
    }
  }
  return pids;
}

/**
 * Undoes attachBaseDir for one stack; the system mounts go too once no other stack is attached and no process runs
 * inside the root. Synchronous, so the exit hook can call it. Never throws: it runs on the way out.
 */
export function detachBaseDir(root: string, baseDir: string): void {
  const point = join(root, baseDir);
  try {
    for (const p of mountsUnder(point)) umount(p);
    if (existsSync(point)) rmdirSync(point);
  } catch {
    // best effort; the next start of a stack on this root finds the folder and reuses it
  }
  const system = new Set(SYSTEM_MOUNTS.map((rel) => join(root, rel)));
  const others = mountsUnder(root).filter((p) => !system.has(p) && ![...system].some((s) => p.startsWith(`${s}/`)));
  if (others.length > 0 || processesInside(root).length > 0) return;
  for (const p of mountsUnder(root)) {
    try {
      umount(p);
    } catch {
      // keep going with the others
    }
  }
}
