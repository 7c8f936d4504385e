/**
 * Owns finding the RabbitMQ and redis binaries of the machine, and installing Debian's packages when they are missing
 * and we are allowed to (root on Debian, install !== false). Must not start or stop any server: a service the
 * package's postinst may start on the default ports is left alone, the devstack uses its own ports.
 */

import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

import { LocalStackError } from './errors.js';

export const RABBITMQ_BIN_DIR = '/usr/lib/rabbitmq/bin';
const PACKAGES = ['rabbitmq-server', 'redis-server'];

export interface Binaries {
  rabbitmqServer: string;
  rabbitmqctl: string;
  redisServer: string;
  /** Set when we are root: the nodes then run as the package's rabbitmq user through setpriv. */
  runAs: { setpriv: string; user: string; uid: number; gid: number } | undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function which(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function findBinaries(): { found: Partial<Binaries>; missing: string[] } {
  const rabbitmqServer = join(RABBITMQ_BIN_DIR, 'rabbitmq-server');
  const rabbitmqctl = join(RABBITMQ_BIN_DIR, 'rabbitmqctl');
  const found: Partial<Binaries> = {};
  const missing: string[] = [];
  if (isExecutable(rabbitmqServer) && isExecutable(rabbitmqctl)) {
    found.rabbitmqServer = rabbitmqServer;
    found.rabbitmqctl = rabbitmqctl;
  } else {
    missing.push('rabbitmq-server');
  }
  const redisServer = which('redis-server', ['/usr/bin', '/usr/sbin']);
  if (redisServer) found.redisServer = redisServer;
  else missing.push('redis-server');
  return { found, missing };
}

/** Runs a command without a shell, keeping the tail of its output for error messages. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer): void => {
      // apt-get is chatty; only the tail matters for an error message
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Resolves the binaries, installing the packages first when needed and allowed. Throws
 * LocalStackError('warren_devstack_missing_binaries') naming the packages and the docker compose alternative otherwise.
 */
export async function ensureBinaries(opts: { install: boolean; log: (line: string) => void }): Promise<Binaries> {
  let { found, missing } = findBinaries();
  if (missing.length > 0) {
    const canInstall = opts.install && isRoot() && existsSync('/etc/debian_version');
    if (!canInstall) {
      throw new LocalStackError(
        'warren_devstack_missing_binaries',
        `missing ${missing.join(' and ')}: install the Debian packages (apt-get install ${PACKAGES.join(' ')}) ` +
          'or run the services with `docker compose up` from the repository root',
      );
    }
    opts.log(`installing ${PACKAGES.join(' ')} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', ...PACKAGES]]) {
      const { code, output } = await run('apt-get', args, env);
      if (code !== 0) {
        throw new LocalStackError(
          'warren_devstack_install_failed',
          `apt-get ${args.join(' ')} failed with exit code ${code}:\n${tail(output)}`,
        );
      }
    }
    ({ found, missing } = findBinaries());
    if (missing.length > 0) {
      throw new LocalStackError(
        'warren_devstack_missing_binaries',
        `still missing ${missing.join(' and ')} after apt-get install; try \`docker compose up\` instead`,
      );
    }
  }
  return {
    rabbitmqServer: found.rabbitmqServer as string,
    rabbitmqctl: found.rabbitmqctl as string,
    redisServer: found.redisServer as string,
    runAs: isRoot() ? await rabbitmqUser() : undefined,
  };
}

/**
 * As root, the nodes run as the package's `rabbitmq` user, like the Debian service does. setpriv (not runuser/su)
 * because those reset HOME, and HOME is where Erlang reads the stack's cookie from.
 */
async function rabbitmqUser(): Promise<Binaries['runAs']> {
  const [uid, gid] = await Promise.all([idOf('-u'), idOf('-g')]);
  if (uid === undefined || gid === undefined) return undefined;
  const setpriv = which('setpriv', ['/usr/bin', '/bin']);
  if (!setpriv) {
    throw new LocalStackError('warren_devstack_missing_binaries', 'setpriv (package util-linux) is required as root');
  }
  return { setpriv, user: 'rabbitmq', uid, gid };
}

async function idOf(flag: '-u' | '-g'): Promise<number | undefined> {
  const { code, output } = await run('id', [flag, 'rabbitmq'], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  const value = Number(output.trim());
  return code === 0 && Number.isInteger(value) ? value : undefined;
}
