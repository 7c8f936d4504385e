/**
 * Owns which RabbitMQ the devstack runs and how its programs are started: the machine's own packages (Debian
 * bookworm: RabbitMQ 3.10.8, Erlang 25, oslo.messaging 14) or a Debian trixie root entered with chroot (RabbitMQ
 * 4.0.5, Erlang 27, oslo.messaging 16). Everything else in the devstack asks this module for an argv, so both series
 * share one code path. Must not start servers itself.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { LocalStackError } from './errors.js';
import { type Binaries, ensureBinaries, isRoot, RABBITMQ_BIN_DIR } from './install.js';
import { attachBaseDir, detachBaseDir, ensureTrixieRoot, trixieRootDir } from './trixie-root.js';

export const RABBITMQ_SERIES = ['3.10', '4.0'] as const;
export type RabbitmqSeries = (typeof RABBITMQ_SERIES)[number];

/** The JSON-serialisable part, kept in a LocalStackDescription so a reused or attached stack runs the same way. */
export interface BrokerRuntimeDescription {
  series: RabbitmqSeries;
  /** '/' for the machine's packages, else the root folder entered with chroot. */
  root: string;
  /** argv prefixes of the CLI tools and Python, as runnable from this machine (chroot included). */
  rabbitmqctl: string[];
  rabbitmqQueues: string[];
  rabbitmqStreams: string[];
  python3: string[];
}

export interface BrokerRuntime extends BrokerRuntimeDescription {
  /** rabbitmq-server as seen inside the root. */
  rabbitmqServer: string;
  redisServer: string;
  /** Set when we are root: the nodes then run as the package's rabbitmq user (of the root they run from). */
  runAs: Binaries['runAs'];
  /** The argv that starts `argv` (paths inside the root) as the node's user where there is one. */
  asNodeUser(argv: string[]): string[];
  /** Makes a stack's base directory visible to programs of the root, at the same path. */
  attach(baseDir: string): void;
  /** Undoes attach; synchronous and never throwing, for exit hooks. */
  detach(baseDir: string): void;
}

/** The series to use when none is asked for: WARREN_TEST_RABBITMQ (tests, demo, benchmarks) or 3.10. */
export function seriesFromEnv(value = process.env.WARREN_TEST_RABBITMQ): RabbitmqSeries {
  if (value === undefined || value === '') return '3.10';
  if ((RABBITMQ_SERIES as readonly string[]).includes(value)) return value as RabbitmqSeries;
  throw new LocalStackError(
    'warren_devstack_start_failed',
    `WARREN_TEST_RABBITMQ must be one of ${RABBITMQ_SERIES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

function hostRuntime(bins: Binaries): BrokerRuntime {
  const runAs = bins.runAs;
  const sbin = (name: string): string[] => [join(RABBITMQ_BIN_DIR, name)];
  return {
    series: '3.10',
    root: '/',
    rabbitmqctl: [bins.rabbitmqctl],
    rabbitmqQueues: sbin('rabbitmq-queues'),
    rabbitmqStreams: sbin('rabbitmq-streams'),
    python3: ['/usr/bin/python3'],
    rabbitmqServer: bins.rabbitmqServer,
    redisServer: bins.redisServer,
    runAs,
    // setpriv, not runuser/su: those reset HOME, and HOME is where Erlang reads the stack's cookie from
    asNodeUser: (argv) =>
      runAs ? [runAs.setpriv, `--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--init-groups', '--', ...argv] : argv,
    attach: () => undefined,
    detach: () => undefined,
  };
}

/** The trixie package installs its tools under lib/rabbitmq_server-<version>/sbin; bin/ has only some of them. */
function trixieSbin(root: string): string {
  const lib = join(root, 'usr/lib/rabbitmq/lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('rabbitmq_server-'));
  if (!dir) throw new LocalStackError('warren_devstack_missing_binaries', `no rabbitmq_server-* folder in ${lib}`);
  return `/usr/lib/rabbitmq/lib/${dir}/sbin`;
}

function passwdIds(root: string, user: string): { uid: number; gid: number } | undefined {
  const line = readFileSync(join(root, 'etc/passwd'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

export function chrootRuntime(root: string, redisServer: string): BrokerRuntime {
  const chroot = existsSync('/usr/sbin/chroot') ? '/usr/sbin/chroot' : 'chroot';
  const sbin = trixieSbin(root);
  const inside = (path: string): string[] => [chroot, root, path];
  const ids = isRoot() ? passwdIds(root, 'rabbitmq') : undefined;
  const runAs = ids ? { setpriv: chroot, user: 'rabbitmq', ...ids } : undefined;
  return {
    series: '4.0',
    root,
    rabbitmqctl: inside(`${sbin}/rabbitmqctl`),
    rabbitmqQueues: inside(`${sbin}/rabbitmq-queues`),
    rabbitmqStreams: inside(`${sbin}/rabbitmq-streams`),
    python3: inside('/usr/bin/python3'),
    rabbitmqServer: `${sbin}/rabbitmq-server`,
    redisServer,
    runAs,
    asNodeUser: (argv) =>
      runAs ? [chroot, `--userspec=${runAs.uid}:${runAs.gid}`, root, ...argv] : [chroot, root, ...argv],
    attach: (baseDir) => attachBaseDir(root, baseDir),
    detach: (baseDir) => detachBaseDir(root, baseDir),
  };
}

/** Resolves (installing or building where allowed) the runtime of a series. */
export async function ensureBrokerRuntime(
  series: RabbitmqSeries,
  opts: { install: boolean; log: (line: string) => void },
): Promise<BrokerRuntime> {
  // redis and the 3.10 CLI come from the machine either way: the tests' Redis is the machine's
  const bins = await ensureBinaries(opts);
  if (series === '3.10') return hostRuntime(bins);
  if (!isRoot()) {
    throw new LocalStackError(
      'warren_devstack_start_failed',
      'RabbitMQ 4.0 runs from a chroot, which needs root; run as root or use WARREN_TEST_RABBITMQ=3.10',
    );
  }
  return chrootRuntime(await ensureTrixieRoot(opts), bins.redisServer);
}

/** The runtime of an already running stack, from its description (attachLocalStack). */
export function runtimeOf(desc: BrokerRuntimeDescription | undefined, runAsOfHost: Binaries['runAs']): BrokerRuntime {
  if (!desc || desc.series === '3.10') {
    return hostRuntime({
      rabbitmqServer: join(RABBITMQ_BIN_DIR, 'rabbitmq-server'),
      rabbitmqctl: join(RABBITMQ_BIN_DIR, 'rabbitmqctl'),
      redisServer: 'redis-server',
      runAs: runAsOfHost,
    });
  }
  return chrootRuntime(desc.root || trixieRootDir(), 'redis-server');
}

export function describeRuntime(rt: BrokerRuntime): BrokerRuntimeDescription {
  return {
    series: rt.series,
    root: rt.root,
    rabbitmqctl: [...rt.rabbitmqctl],
    rabbitmqQueues: [...rt.rabbitmqQueues],
    rabbitmqStreams: [...rt.rabbitmqStreams],
    python3: [...rt.python3],
  };
}
