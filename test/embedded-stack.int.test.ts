/**
 * The embedded default: `warren start` with no cluster and no Slack credentials starts its own local stack,
 * answers in the console, and leaves no process or directory behind when its input ends.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliRun, runCli } from './support/run-cli.js';

function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/environ`, 'latin1').includes(text) ||
          readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(text)
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('warren start with nothing configured', () => {
  let run: CliRun | undefined;
  afterAll(() => run?.child.kill('SIGKILL'));

  it('runs the embedded stack, answers /rabbit status and cleans up on exit', { timeout: 180_000 }, async () => {
    run = runCli(['start'], { LOG_LEVEL: 'info' });
    await run.waitForOutput((out) => out.includes('warren console.'), 150_000);
    const baseDir = /in (\/\S+warren-stack-[A-Za-z0-9]+)/.exec(run.stderr())?.[1];
    expect(baseDir).toBeDefined();
    run.send('/rabbit status');
    const out = await run.waitForOutput((o) => o.includes('nodes running'), 30_000);
    expect(out).toContain('== Cluster local');
    expect(out).toContain('3/3 nodes running, no partitions, no alarms');
    run.child.stdin.end();
    expect(await run.exit()).toBe(0);
    expect(existsSync(baseDir as string)).toBe(false);
    expect(processesMentioning(baseDir as string)).toEqual([]);
  });
});
