/**
 * `npm run demo -- --script smoke` end to end, as a newcomer would run it: its own local cluster, the simulated
 * cloud, a zombie fault, the alert, Fix…, a second user's approval and the resolution, all in the console; then
 * exit 0 with no process and no temporary directory left behind. The same for the heartbeat and memory-alarm
 * loops, whose fixes are stopgaps (the second a critical run: two approvers). Runs on both RabbitMQ series
 * (ON_RABBITMQ_4_0): the demo gets `--rabbitmq` of the stack the project runs on, and so its default oslo layout
 * (kolla on 4.0, where the zombie is a retired host's reply queue; classic on 3.10).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { waitUntil } from '../support/wait-until.js';

const root = resolve(import.meta.dirname, '..', '..');

/** Command lines of every process now running, by pid. */
function processes(): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      found.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function rpcServers(): Set<number> {
  return new Set([...processes()].filter(([, cmd]) => cmd.includes('rpc-server-process')).map(([pid]) => pid));
}

/** Fails when the demo's stack directory is still there, or a process of its stack or its simulator still runs. */
function expectNothingLeft(stderr: string, rpcServersBefore: Set<number>): void {
  const baseDir = /starting redis-server and 3 RabbitMQ (?:\S+ )?node\(s\) in (\S+)/.exec(stderr)?.[1];
  expect(baseDir).toBeDefined();
  expect(existsSync(baseDir as string)).toBe(false);
  // On 4.0 the stack's directory is mounted into the broker's root: no mount of it may stay either.
  expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(baseDir as string);
  const left = [...processes()].filter(
    ([pid, cmd]) =>
      cmd.includes(baseDir as string) || (cmd.includes('rpc-server-process') && !rpcServersBefore.has(pid)),
  );
  expect(left).toEqual([]);
}

/** The series of the project's stack: the demo starts its own cluster of the same one. */
const series = inject('stack').rabbitmq.series;

/** The demo as `npm run demo` starts it, without Slack credentials, with its output collected. */
function startDemo(args: string[]) {
  const argv = ['--import', 'tsx', 'src/demo/main.ts', '--rabbitmq', series, ...args];
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', SLACK_APP_TOKEN: '', REDIS_URL: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return { child, output, exited };
}

describe('npm run demo -- --script', () => {
  it('runs the zombie loop unattended, exits 0 and leaves nothing behind', async () => {
    const rpcServersBefore = rpcServers();
    const demo = startDemo(['--script', 'smoke']);
    demo.child.stdin.end();
    const { code } = await demo.exited;
    const { stdout, stderr } = demo.output;
    const output = `${stdout}\n${stderr}`;
    expect(code, output.slice(-4_000)).toBe(0);

    // What the script saw, in the order an operator would.
    const steps = [
      /\[demo\] smoke: the zombie alert fired/,
      /\[demo\] smoke: an approval request for delete-zombie-queues/,
      /\[demo\] smoke: the zombie run done and verified/,
      /\[demo\] smoke: the zombie alert resolved/,
      /\[demo\] smoke: OK/,
    ].map((step) => stderr.search(step));
    expect(steps.every((at) => at >= 0)).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(stdout).toMatch(/WARNING: Zombie fanout and reply queues on `demo`/);
    expect(stdout).toMatch(/Done and verified: `delete-zombie-queues`/);
    expect(stdout).toMatch(
      series === '4.0'
        ? /kolla oslo layout[\s\S]*reply_cmp-\d+:nova-compute:1/
        : /classic oslo layout[\s\S]*compute_fanout_/,
    );
    expect(stdout).toMatch(/approvals 1\/1 \(@U0ALICE\)/);
    // The simulated cloud's errors reached the console through the tap, too.
    expect(stdout).toMatch(/\[!!\] (compute\.)?instance\.create\.error from/);

    expectNothingLeft(stderr, rpcServersBefore);
  }, 420_000);

  it('runs the heartbeat and memory-alarm loops, the critical one with two approvers, and exits 0', async () => {
    const rpcServersBefore = rpcServers();
    const demo = startDemo(['--script', 'heartbeat,memory-alarm']);
    demo.child.stdin.end();
    const { code } = await demo.exited;
    const { stdout, stderr } = demo.output;
    expect(code, `${stdout}\n${stderr}`.slice(-4_000)).toBe(0);

    const steps = [
      /\[demo\] smoke: the heartbeat alert fired, with its Fix… button/,
      /\[demo\] smoke: an approval request for close-heartbeatless-connections/,
      /\[demo\] smoke: the heartbeat run done and verified/,
      /\[demo\] smoke: the heartbeat alert resolved/,
      /\[demo\] smoke: the memory-alarm alert fired, with its Fix… button/,
      /\[demo\] smoke: an approval request for raise-memory-watermark/,
      /\[demo\] smoke: the request waiting for approval 2/,
      /\[demo\] smoke: the memory-alarm run done and verified/,
      /\[demo\] smoke: the memory-alarm alert resolved/,
      /\[demo\] smoke: OK, the whole loop ran \(heartbeat, memory-alarm\)/,
    ].map((step) => stderr.search(step));
    expect(
      steps.every((at) => at >= 0),
      stderr.slice(-3_000),
    ).toBe(true);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    // The stopgap closed the cinder-scheduler connection the fault opened, and said what really fixes it.
    expect(stdout).toMatch(/close 1 connection\(s\) without working heartbeats.*`cinder-scheduler`/);
    expect(stdout).toMatch(/Done and verified: `close-heartbeatless-connections`/);
    expect(stdout).toMatch(/RESOLVED: Heartbeats disabled on `demo`/);
    // The critical run waited for two approvers, neither of them the requester, and raised the node back to 0.4.
    expect(stdout).toMatch(/approvals 1\/2 \(@U0ALICE\)/);
    expect(stdout).toMatch(/approvals 2\/2 \(@U0ALICE, @U0BOB\)/);
    expect(stdout).toMatch(/set the memory watermark of `rabbit2[^`]*` from 0\.0001 to 0\.4 of RAM: set to 0\.4/);
    expect(stdout).toMatch(/RESOLVED: Resource alarms on `demo`/);

    expectNothingLeft(stderr, rpcServersBefore);
  }, 420_000);

  it('takes faults at the console, and Ctrl-C (SIGINT) stops everything, leaving nothing behind', async () => {
    const rpcServersBefore = rpcServers();
    const { child, output, exited } = startDemo([]);
    try {
      await waitUntil(() => output.stdout.includes('warren console'), 'the demo console', 180_000);
      child.stdin.write('/fault channel-leak\n');
      await waitUntil(
        () => /fault channel-leak: .*150 channels/.test(output.stdout),
        'the fault to be injected',
        60_000,
      );
      child.stdin.write('/rabbit connections --by service\n');
      await waitUntil(() => output.stdout.includes('neutron-openvswitch-agent'), 'the leaking service listed', 60_000);
    } finally {
      child.kill('SIGINT');
    }
    const { code, signal } = await exited;
    expect(code === 0 || signal === 'SIGINT', `${code} ${signal}\n${output.stderr.slice(-2_000)}`).toBe(true);
    expect(output.stderr).toContain('stopped; nothing left behind');
    expectNothingLeft(output.stderr, rpcServersBefore);
  }, 300_000);
});
