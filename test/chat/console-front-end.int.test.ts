/**
 * The console front end driven through stdin/stdout of the real CLI process: the same `/rabbit status` answer
 * as in Slack, access rules tried with `/as` and `/in`, and a clean exit when the input ends.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type CliRun, runCli } from '../support/run-cli.js';
import { stackEnv } from '../support/stack-env.js';
import { harnessKeys } from '../support/warren-harness.js';

const KEYS = harnessKeys('chat-console-front-end');

describe('console front end', () => {
  const stack = inject('stack');
  const runs: CliRun[] = [];
  afterAll(() => {
    for (const run of runs) run.child.kill('SIGKILL');
  });

  it('answers /rabbit status with the three nodes and exits 0 when the input ends', async () => {
    const run = runCli(['start'], { ...stackEnv(stack), REDIS_KEY_PREFIX: KEYS });
    runs.push(run);
    await run.waitForOutput((out) => out.includes('warren console.'));
    run.send('/rabbit status');
    const out = await run.waitForOutput(
      (o) => stack.nodes.every((n) => o.includes(n.name)) && o.includes('nodes running'),
    );
    expect(out).toContain('warren (only visible to you):');
    expect(out).toContain('3/3 nodes running, no partitions, no alarms');
    expect(out).toContain('== Cluster default');
    expect(out).not.toContain(stack.password);
    run.child.stdin.end();
    expect(await run.exit()).toBe(0);
  });

  it('applies access rules to the acting user and channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-console-'));
    writeFileSync(join(dir, 'warren.yaml'), 'access:\n  channels: [C0OPS]\n');
    const run = runCli(['start'], { ...stackEnv(stack), REDIS_KEY_PREFIX: KEYS }, dir);
    runs.push(run);
    await run.waitForOutput((out) => out.includes('warren console.'));
    run.send('/rabbit status');
    await run.waitForOutput((o) =>
      o.includes('Not allowed: warren takes commands only in #C0OPS, not in this channel.'),
    );
    run.send('/in C0OPS');
    run.send('/as U0BOB');
    await run.waitForOutput((o) => o.includes('now acting as U0BOB in C0OPS'));
    run.send('/rabbit help');
    await run.waitForOutput((o) => o.includes('/rabbit status [cluster]'));
    run.send('/quit');
    expect(await run.exit()).toBe(0);
  });
});
