/**
 * Runs a command without a shell, in a process group of its own, and when it runs too long ends the whole group,
 * not only the process it started. The commands warren and its devstack run are wrappers more often than not
 * (`sudo rabbitmqctl`, `runuser … rabbitmqctl`, `ssh host …`), and RabbitMQ's CLI is an Erlang VM under them: a
 * SIGKILL of the wrapper alone leaves that VM running. An offline `forget_cluster_node` left behind that way holds
 * the node's name, and the node's next start fails with `duplicate_node_name`.
 *
 * On timeout the group gets SIGTERM first, which `sudo` passes on to its command and which an Erlang VM answers by
 * stopping cleanly, then SIGKILL after `graceMs` for whatever is still there. A process that leaves the group on
 * purpose (epmd, which the CLI starts as a daemon) is left alone, as it should be.
 */
import { spawn } from 'node:child_process';

export interface RunCommandOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr together; past it the group is ended, the output kept up to it. Default 1 MiB. */
  maxBytes?: number;
  /** From SIGTERM to SIGKILL after a timeout. Default 5 s. */
  graceMs?: number;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** The exit code; null when a signal ended the process or it never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Ended because it ran past timeoutMs. */
  timedOut: boolean;
  /** Ended because its output passed maxBytes. */
  tooMuchOutput: boolean;
  /** Why the process could not be started at all (ENOENT, EACCES). */
  spawnError?: Error;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
const DEFAULT_GRACE_MS = 5_000;

/** Never rejects: every outcome, a failure to start included, is a CommandResult. */
export function runCommand(file: string, args: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A group of its own, so that the group can be ended; the child leads it, so its pid names it.
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let tooMuchOutput = false;
    let killTimer: NodeJS.Timeout | undefined;
    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    const end = () => {
      if (killTimer) return;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), options.graceMs ?? DEFAULT_GRACE_MS);
    };
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if (tooMuchOutput) return;
      const room = maxBytes - bytes;
      into.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      bytes += Math.min(chunk.length, room);
      if (chunk.length > room) {
        tooMuchOutput = true;
        end();
      }
    };
    child.stdout?.on('data', collect(out));
    child.stderr?.on('data', collect(err));
    const timer = setTimeout(() => {
      timedOut = true;
      end();
    }, options.timeoutMs);
    const result = (rest: Pick<CommandResult, 'code' | 'signal'> & { spawnError?: Error }): CommandResult => ({
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      timedOut,
      tooMuchOutput,
      ...rest,
    });
    child.once('error', (error) => {
      // Only a process that never started: errors of a running one (a failed kill) do not end it.
      if (child.pid !== undefined) return;
      clearTimeout(timer);
      resolve(result({ code: null, signal: null, spawnError: error }));
    });
    // A process that left the group (a daemon) can hold the pipes open for good: once the command itself exited,
    // its output is read for at most the grace period more.
    child.once('exit', () => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, options.graceMs ?? DEFAULT_GRACE_MS).unref();
    });
    // 'close' comes once the process exited and every holder of its stdout and stderr closed them: the group's
    // processes too, so nothing the command started is still writing when the caller reads the result.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) {
        clearTimeout(killTimer);
        // The leader exited on SIGTERM; a member that ignored it would otherwise outlive the call.
        signalGroup('SIGKILL');
      }
      resolve(result({ code, signal }));
    });
  });
}
