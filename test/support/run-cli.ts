/**
 * Runs the real `warren` CLI from source in a child process, with stdin/stdout as pipes, so tests drive it the
 * way an operator drives a terminal. `waitForOutput` is event-driven: it resolves when the text appears.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CLI = resolve(import.meta.dirname, '..', '..', 'src', 'cli.ts');
// Resolved here, not by the child, so the CLI can run with any working directory (e.g. one holding a warren.yaml).
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  send(line: string): void;
  waitForOutput(predicate: (stdout: string) => boolean, timeoutMs?: number): Promise<string>;
  exit(): Promise<number | null>;
}

export function runCli(args: string[], env: Record<string, string>, cwd?: string): CliRun {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    // Only what the test gives, plus PATH/HOME, so the developer's own WARREN_*/SLACK_* never leak in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters) w();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    send: (line) => child.stdin.write(`${line}\n`),
    waitForOutput(predicate, timeoutMs = 30_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          if (predicate(out)) {
            cleanup();
            resolvePromise(out);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for output; stdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        exited.then(() => {
          if (waiters.has(check)) {
            cleanup();
            reject(new Error(`process exited before the output appeared; stdout:\n${out}\nstderr:\n${err}`));
          }
        });
        check();
      });
    },
    exit: () => exited,
  };
}
