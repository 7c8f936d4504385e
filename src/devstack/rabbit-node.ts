/**
 * Owns one RabbitMQ node of the devstack: its files under <baseDir>/<shortName>, its environment, starting its
 * Erlang VM, and running rabbitmqctl against it. Must not decide about clustering or users (local-stack.ts does) and
 * must never pass arguments through a shell: `rabbitmqctl eval` receives Erlang code verbatim.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type CommandResult, runCommand } from '../run-command.js';
import type { BrokerRuntime } from './broker-runtime.js';
import { LocalStackError } from './errors.js';
import { isAlive, killIfOurs, MARKER_ENV, sleep, tailFile, waitForExit } from './processes.js';
import type { RabbitCli, RabbitmqctlResult } from './types.js';

/** A CLI's output kept whole: `list_queues` of 100,000 queues (bench/health's baseline) runs to megabytes. */
const CLI_MAX_BYTES = 256 * 1024 * 1024;

export interface NodeSpec {
  name: string;
  shortName: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  prometheusPort: number;
}

export interface NodeContext {
  baseDir: string;
  cookieHome: string;
  runtime: Pick<BrokerRuntime, 'rabbitmqServer' | 'rabbitmqctl' | 'runAs' | 'asNodeUser'>;
}

export interface RunningNode {
  child: ChildProcess;
  /** Resolves once the process we spawned (the rabbitmq-server shell wrapper) has exited. */
  exited: Promise<void>;
}

export function nodeDir(ctx: Pick<NodeContext, 'baseDir'>, spec: Pick<NodeSpec, 'shortName'>): string {
  return join(ctx.baseDir, spec.shortName);
}

const pidFile = (ctx: NodeContext, spec: NodeSpec): string => join(nodeDir(ctx, spec), 'pid');
const stdoutLog = (ctx: NodeContext, spec: NodeSpec): string => join(nodeDir(ctx, spec), 'stdout.log');

// erl, epmd and the rabbitmq scripts' helpers must be found even when the caller's PATH is minimal
const DEFAULT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * A fixed environment rather than the parent's: a RABBITMQ_* or NOTIFY_SOCKET variable of the caller would change
 * where the node keeps its data or how rabbitmq-server runs. HOME is where Erlang finds the stack's cookie.
 */
export function baseEnv(ctx: Pick<NodeContext, 'baseDir' | 'cookieHome'>): NodeJS.ProcessEnv {
  return {
    PATH: [...(process.env.PATH ?? '').split(':'), ...DEFAULT_PATH].filter(Boolean).join(':'),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    HOME: ctx.cookieHome,
    [MARKER_ENV]: ctx.baseDir,
  };
}

function nodeEnv(ctx: NodeContext, spec: NodeSpec): NodeJS.ProcessEnv {
  const dir = nodeDir(ctx, spec);
  return {
    ...baseEnv(ctx),
    RABBITMQ_NODENAME: spec.name,
    RABBITMQ_DIST_PORT: String(spec.distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_PID_FILE: pidFile(ctx, spec),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

/**
 * Creates the node's directory and config; cluster_partition_handling stays at its default (ignore) on purpose, and
 * net_ticktime is short so that a frozen node is declared down quickly (see partition.ts).
 */
export function prepareNode(ctx: NodeContext, spec: NodeSpec): void {
  const dir = nodeDir(ctx, spec);
  mkdirSync(join(dir, 'mnesia'), { recursive: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  const conf = [
    `listeners.tcp.1 = 127.0.0.1:${spec.amqpPort}`,
    `management.tcp.port = ${spec.managementPort}`,
    'management.tcp.ip = 127.0.0.1',
    `prometheus.tcp.port = ${spec.prometheusPort}`,
    'prometheus.tcp.ip = 127.0.0.1',
    // Peers declare a silent node down after 7.5 to 12.5 s instead of 45 to 75 s: partition.ts freezes a node past
    // this to make a partition where erlang:disconnect_node leaves none (RabbitMQ 4.0, Erlang 27).
    'net_ticktime = 10',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'rabbitmq.conf'), conf);
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_management,rabbitmq_prometheus].\n');
  if (ctx.runtime.runAs) chownTree(dir, ctx.runtime.runAs.uid, ctx.runtime.runAs.gid);
}

/** Starts the node's VM in the background; output goes to <dir>/stdout.log, never into a pipe of ours. */
export function spawnNode(ctx: NodeContext, spec: NodeSpec): RunningNode {
  const dir = nodeDir(ctx, spec);
  // A stale pid file would make killNode/stop signal a pid the kernel may have recycled.
  rmSync(pidFile(ctx, spec), { force: true });
  const out = openSync(stdoutLog(ctx, spec), 'a');
  const { runAs } = ctx.runtime;
  if (runAs) chownSync(stdoutLog(ctx, spec), runAs.uid, runAs.gid);
  const [cmd, ...args] = ctx.runtime.asNodeUser([ctx.runtime.rabbitmqServer]) as [string, ...string[]];
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, { cwd: dir, env: nodeEnv(ctx, spec), stdio: ['ignore', out, out], detached: false });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  return { child, exited };
}

/** The beam.smp pid written by rabbitmq-server, if the VM got that far. */
export function readBeamPid(ctx: NodeContext, spec: NodeSpec): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(ctx, spec), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The node's recent output and log, for error messages. */
export function nodeLogTail(ctx: NodeContext, spec: NodeSpec, lines = 20): string {
  const parts = [`--- ${stdoutLog(ctx, spec)}\n${tailFile(stdoutLog(ctx, spec), lines)}`];
  const rabbitLog = join(nodeDir(ctx, spec), 'log', `${spec.name}.log`);
  if (existsSync(rabbitLog)) parts.push(`--- ${rabbitLog}\n${tailFile(rabbitLog, lines)}`);
  return parts.join('\n');
}

/**
 * A CLI run's result as the stack's callers read it: 124 for a timeout (as `timeout(1)` says it), -1 for a CLI that
 * could not start or was ended by a signal, with the reason added to stderr.
 */
function cliResult(run: CommandResult, what: string, timeoutMs: number): RabbitmqctlResult {
  const { stdout, stderr } = run;
  if (run.timedOut) return { stdout, stderr: `${stderr}${what} timed out after ${timeoutMs} ms\n`, code: 124 };
  if (run.spawnError) return { stdout, stderr: `${stderr}${run.spawnError.message}\n`, code: -1 };
  if (run.tooMuchOutput) {
    return { stdout, stderr: `${stderr}${what}: output over ${CLI_MAX_BYTES / 1024 / 1024} MiB\n`, code: -1 };
  }
  return { stdout, stderr, code: run.code ?? -1 };
}

/**
 * Runs rabbitmqctl as the current user (root can read the rabbitmq-owned 0400 cookie). On a timeout the whole
 * process group is ended (run-command.ts): the CLI's VM may run under a chroot.
 */
export async function runRabbitmqctl(
  ctx: Pick<NodeContext, 'baseDir' | 'cookieHome'> & { runtime: Pick<BrokerRuntime, 'rabbitmqctl'> },
  node: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<RabbitmqctlResult> {
  const [cli, ...prefix] = ctx.runtime.rabbitmqctl as [string, ...string[]];
  const run = await runCommand(cli, [...prefix, '-n', node, ...args], {
    cwd: ctx.cookieHome,
    env: baseEnv(ctx),
    timeoutMs,
    maxBytes: CLI_MAX_BYTES,
  });
  return cliResult(run, 'rabbitmqctl', timeoutMs);
}

/**
 * Runs rabbitmqctl as the node's own user with the node's own environment (its data and config paths), as on the
 * node's host: for the commands that work on a stopped node's files (`forget_cluster_node --offline`). The CLI runs
 * under the user switch's process, so a timeout must end the group, not the switch alone: an offline forget left
 * running holds the node's name, and the node's next start fails with `duplicate_node_name`.
 */
export async function runOwnRabbitmqctl(
  ctx: NodeContext & { runtime: Pick<BrokerRuntime, 'rabbitmqctl'> },
  spec: NodeSpec,
  args: string[],
  timeoutMs = 60_000,
  tool: RabbitCli = 'rabbitmqctl',
): Promise<RabbitmqctlResult> {
  // The CLI's path inside the runtime's root: the last part of the argv prefix (a chroot comes before it); the other
  // tools are in the same folder.
  const cli = (ctx.runtime.rabbitmqctl.at(-1) as string).replace(/rabbitmqctl$/, tool);
  const [file, ...argv] = ctx.runtime.asNodeUser([cli, '-n', spec.name, ...args]) as [string, ...string[]];
  const run = await runCommand(file, argv, {
    cwd: ctx.cookieHome,
    env: nodeEnv(ctx, spec),
    timeoutMs,
    maxBytes: CLI_MAX_BYTES,
  });
  return cliResult(run, tool, timeoutMs);
}

/**
 * Waits until the node has fully booted. `await_startup` fails at once while the node is not yet registered with
 * epmd, hence the retry loop; a VM that exits meanwhile fails fast with the node's log in the message.
 */
export async function awaitNodeStartup(
  ctx: NodeContext,
  spec: NodeSpec,
  running: RunningNode,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void running.exited.then(() => {
    exited = true;
  });
  let last: RabbitmqctlResult | undefined;
  while (!exited && Date.now() < deadline) {
    const remainingS = Math.max(1, Math.floor((deadline - Date.now()) / 1000));
    last = await runRabbitmqctl(
      ctx,
      spec.name,
      ['await_startup', '--timeout', String(Math.min(60, remainingS))],
      75_000,
    );
    if (last.code === 0) return;
    await sleep(500);
  }
  const why = exited ? 'exited during startup' : `did not start within ${Math.round(timeoutMs / 1000)} s`;
  // the CLI's own diagnostics run to 30 lines; its first lines say what it saw, the node's log says why
  const cliText = last ? (last.stderr || last.stdout).trim().split('\n').slice(0, 3).join('\n') : '';
  const cli = last ? `\n--- last rabbitmqctl await_startup (exit ${last.code}):\n${cliText}` : '';
  throw new LocalStackError(
    'warren_devstack_start_failed',
    `RabbitMQ node ${spec.name} ${why}${cli}\n${nodeLogTail(ctx, spec)}`,
  );
}

/** SIGKILL of the node's VM and of the wrapper we spawned, waiting for both to be gone. */
export async function killNodeProcesses(ctx: NodeContext, spec: NodeSpec, wrapperPid?: number): Promise<void> {
  const beam = readBeamPid(ctx, spec);
  if (beam !== undefined && killIfOurs(beam, ctx.baseDir)) await waitForExit(beam, 10_000);
  if (wrapperPid !== undefined && isAlive(wrapperPid)) {
    // the wrapper exits by itself once its VM is gone; give it a moment before forcing it
    if (!(await waitForExit(wrapperPid, 2_000))) {
      killIfOurs(wrapperPid, ctx.baseDir);
      await waitForExit(wrapperPid, 5_000);
    }
  }
}
