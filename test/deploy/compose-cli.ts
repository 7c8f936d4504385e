/**
 * A Compose implementation to check docker-compose.yml with: Debian's `docker-compose` or Docker's `compose`
 * plugin. When neither is there, it installs the `docker-compose` package with apt-get as root on Debian, as the
 * devstack does for rabbitmq-server and redis-server, so that the README's `npm test` needs nothing set up by hand
 * (and CI installs nothing the README's command does not). `docker-compose config` only parses: no Docker engine.
 */
import { existsSync } from 'node:fs';
import { isRoot, run, tail } from '../../src/devstack/install.js';

export type ComposeCli = { argv: string[] } | { missing: string };

const ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };
/** apt-get waits for the dpkg lock instead of failing while another install (the devstack's) holds it. */
const APT = ['-q', '-o', 'DPkg::Lock::Timeout=300'];

async function found(): Promise<string[] | undefined> {
  for (const argv of [['docker-compose'], ['docker', 'compose']]) {
    const [cmd, ...args] = argv as [string, ...string[]];
    if ((await run(cmd, [...args, 'version'], ENV)).code === 0) return argv;
  }
  return undefined;
}

export async function composeCli(log: (line: string) => void = console.log): Promise<ComposeCli> {
  const present = await found();
  if (present) return { argv: present };
  if (!isRoot() || !existsSync('/etc/debian_version')) {
    return { missing: 'neither docker-compose nor `docker compose` is installed, and only root on Debian installs it' };
  }
  log('installing docker-compose with apt-get to check docker-compose.yml');
  const env = { ...ENV, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', ...APT, 'docker-compose'];
  // The package lists of a fresh machine may be missing or stale: update only when the install needs it.
  let result = await run('apt-get', install, env);
  if (result.code !== 0) {
    const update = await run('apt-get', ['update', ...APT], env);
    if (update.code !== 0) throw new Error(`apt-get update failed (${update.code}):\n${tail(update.output)}`);
    result = await run('apt-get', install, env);
  }
  if (result.code !== 0)
    throw new Error(`apt-get install docker-compose failed (${result.code}):\n${tail(result.output)}`);
  const installed = await found();
  if (!installed) throw new Error('docker-compose still missing after apt-get install docker-compose');
  return { argv: installed };
}
