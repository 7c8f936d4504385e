import { describe, expect, it } from 'vitest';
import { isAlive } from '../src/devstack/processes.js';
import { runCommand } from '../src/run-command.js';

describe('runCommand', () => {
  it('returns the output and the exit code, whatever the code', async () => {
    const ok = await runCommand('/bin/sh', ['-c', 'echo out; echo err >&2'], { timeoutMs: 10_000 });
    expect(ok).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 0, timedOut: false, tooMuchOutput: false });
    const failing = await runCommand('/bin/sh', ['-c', 'echo no >&2; exit 3'], { timeoutMs: 10_000 });
    expect(failing).toMatchObject({ stderr: 'no\n', code: 3, timedOut: false });
  });

  it('says why a command could not start instead of throwing', async () => {
    const missing = await runCommand('/nonexistent/rabbitmqctl', [], { timeoutMs: 10_000 });
    expect(missing.code).toBeNull();
    expect(missing.spawnError?.message).toMatch(/ENOENT/);
  });

  it('ends what the command started, not only the command, when it runs too long', async () => {
    // A wrapper (as sudo or runuser is) whose child would outlive a kill of the wrapper alone.
    const run = await runCommand('/bin/sh', ['-c', 'sleep 300 & echo $!; wait'], { timeoutMs: 500 });
    const child = Number(run.stdout.trim());
    expect(child).toBeGreaterThan(0);
    expect(run.timedOut).toBe(true);
    expect(isAlive(child)).toBe(false);
  });

  it('kills a group that ignores SIGTERM once the grace period is over', async () => {
    const run = await runCommand('/bin/sh', ['-c', 'trap "" TERM; sleep 300 & echo $!; wait'], {
      timeoutMs: 300,
      graceMs: 700,
    });
    expect(run).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect(isAlive(Number(run.stdout.trim()))).toBe(false);
  });

  it('ends a command whose output passes the limit, keeping what came before it', async () => {
    const run = await runCommand('/usr/bin/yes', [], { timeoutMs: 10_000, maxBytes: 10_000 });
    expect(run.tooMuchOutput).toBe(true);
    expect(run.timedOut).toBe(false);
    expect(run.stdout.length).toBeGreaterThan(0);
    expect(run.stdout.length).toBeLessThanOrEqual(10_000);
  });

  it('does not wait for good on a daemon that left the group with the pipes open', async () => {
    const run = await runCommand('/bin/sh', ['-c', 'setsid sleep 300 & echo $!'], { timeoutMs: 10_000, graceMs: 300 });
    expect(run).toMatchObject({ code: 0, timedOut: false });
    const daemon = Number(run.stdout.trim());
    try {
      expect(isAlive(daemon)).toBe(true);
    } finally {
      process.kill(daemon, 'SIGKILL');
    }
  });
});
