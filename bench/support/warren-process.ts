/**
 * warren as an operator runs it, for the benchmarks that measure it from outside: `warren start` in its own process
 * (so its RSS, CPU and event-loop lag are its own), its log in a file, its /metrics scraped over HTTP.
 * `BENCH_WARREN_ROOT` runs the `warren` of another checkout (say the commit before a change, for a side-by-side
 * figure) under the same benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocatePorts, type LocalStackDescription } from '../../src/devstack/index.js';
import { pollUntil } from '../../src/remediation/poll.js';
import { sleep } from './stats.js';

/** The checkout whose warren runs: this one, or BENCH_WARREN_ROOT's. */
export const WARREN_ROOT = process.env.BENCH_WARREN_ROOT ?? join(import.meta.dirname, '..', '..');

/** A benchmark that could not run as planned, or found lost or doubled work. */
export class BenchError extends Error {
  override name = 'BenchError';
}

export class WarrenProcess {
  readonly child: ChildProcess;
  private readonly logFd: number;

  constructor(
    env: Record<string, string>,
    readonly logFile: string,
    readonly port: number,
  ) {
    this.logFd = openSync(logFile, 'a');
    this.child = spawn(process.execPath, ['--import', 'tsx', join(WARREN_ROOT, 'src', 'cli.ts'), 'start'], {
      cwd: WARREN_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', this.logFd, this.logFd],
    });
  }

  /**
   * `warren start` against `stack` with the config file `config` (written to `dir`, where its log goes too), Slack's
   * Web API at `slackApiUrl`; resolves once /readyz answers.
   */
  static async start(
    stack: Pick<LocalStackDescription, 'nodes' | 'redisUrl'>,
    options: { dir: string; config: string; slackApiUrl: string; signingSecret?: string },
  ): Promise<WarrenProcess> {
    const [port] = (await allocatePorts(1)) as [number];
    const configFile = join(options.dir, 'warren.yaml');
    writeFileSync(configFile, options.config);
    const warren = new WarrenProcess(
      {
        RABBITMQ_URL: stack.nodes.map((n) => n.amqpUrl).join(','),
        RABBITMQ_MANAGEMENT_URL: stack.nodes.map((n) => n.managementUrl).join(','),
        REDIS_URL: stack.redisUrl,
        PORT: String(port),
        WARREN_CONFIG: configFile,
        SLACK_BOT_TOKEN: `xoxb-bench-${randomUUID()}`,
        SLACK_SIGNING_SECRET: options.signingSecret ?? randomUUID(),
        SLACK_API_URL: options.slackApiUrl,
        LOG_LEVEL: 'warn',
      },
      join(options.dir, 'warren.log'),
      port,
    );
    if (!(await pollUntil(async () => ((await warren.ready()) ? true : undefined), 120_000, 250))) {
      await warren.stop();
      throw new BenchError(`warren did not become ready within 120 s; its log:\n${warren.tail()}`);
    }
    return warren;
  }

  async metrics(): Promise<Map<string, number>> {
    const response = await fetch(`http://127.0.0.1:${this.port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new BenchError(`/metrics answered ${response.status}`);
    return parseMetrics(await response.text());
  }

  async ready(): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(
      () => undefined,
    );
    return response?.status === 200;
  }

  /** The end of its log (pino lines, already scrubbed of secrets by warren), for a start that failed. */
  tail(lines = 20): string {
    return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  }

  async stop(): Promise<number | null> {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        await exited;
        return null;
      }
      closeSync(this.logFd);
      return code;
    }
    closeSync(this.logFd);
    return child.exitCode;
  }
}

/** Prometheus text format → series name with labels → value. */
export function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** Sum of every series of `name` whose labels include all of `labels` (`k="v"`). */
export function sumOf(series: Map<string, number>, name: string, labels: string[] = []): number {
  let sum = 0;
  for (const [key, value] of series) {
    const bare = key.split('{')[0];
    if (bare === name && labels.every((l) => key.includes(l))) sum += value;
  }
  return sum;
}
