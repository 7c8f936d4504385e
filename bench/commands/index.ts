/**
 * bench/commands: how fast warren acknowledges slash commands. A real warren in Slack HTTP mode (default config, on a
 * 3-node local cluster with Redis, the Web API and response_url served by a fake Slack) receives bursts of
 * BENCH_CONCURRENCY (default 50) concurrent, correctly signed `/rabbit status` POSTs to /slack/events; per request it
 * times the HTTP response, which is the acknowledgement Slack waits for (3 s at most, or the user sees an error).
 * Each burst's status answers must all reach the fake's response_url before the next burst starts; the time to that
 * answer is reported too, as a secondary figure. BENCH_ROUNDS (default 10) bursts after one warm-up burst; p50 and
 * p99 are over every request of every measured burst.
 *
 * The baseline is a bare Bolt `App` on the receiver warren uses (`HTTPReceiver`, same Bolt version, same signing
 * secret, same token and fake Web API), with the settings warren gives Bolt (no conversation store, the same body
 * limit and unhandled-request timeout), whose `/rabbit` listener only calls `ack()`: the least any Bolt app can do
 * for the same request, so the ratio is what warren adds on top of Bolt's own parsing and signature check. Each side
 * runs in its own child process, so warren's background work (health sweeps, the tap, the status commands still
 * running after their ack) never shares an event loop with the baseline, and the client and the fake Slack (in this
 * process) share none with either. Both get the same bodies, concurrency and rounds, from the same keep-alive
 * client; rounds alternate between them (warren first in even rounds, bare first in odd ones) so that they share the
 * machine's noise, and a round starts only when the previous one's answers are all in. The targets (from the issue)
 * are p99 < 100 ms and p99 ≤ 1.3 × the baseline's p99, judged on the median of the rounds' p99 ratios (each round's
 * two sides share the same moment's noise); the pooled p99s over every round are reported beside it. A miss is
 * reported, not an error.
 *
 *   npm run bench -- commands        (BENCH_ROUNDS=3 for a quick run; BENCH_TEXT=help for a command that calls
 *                                     no management API; BENCH_NODE_ARGS=--cpu-prof to profile both servers)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../../src/devstack/index.js';
import { FakeSlack } from '../../test/support/fake-slack.js';
import { postToBolt, slashCommandBody } from '../../test/support/slack-signing.js';
import { loadAverage, runInfo } from '../support/run-info.js';
import type { ServerKind, ServerReply } from './server.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
/** What follows `/rabbit`; e.g. BENCH_TEXT=help, whose answer needs no management API call, to see what `status` adds. */
const TEXT = process.env.BENCH_TEXT ?? 'status';
const SIGNING_SECRET = 'bench-signing-secret-0123456789';
const ANSWER_TIMEOUT_MS = 30_000;
const PAUSE_MS = 250;
const P99_TARGET_MS = 100;
const RATIO_TARGET = 1.3;

/** One side of the comparison, in its own process (see server.ts). */
class ServerProcess {
  private exited = false;

  private constructor(
    readonly kind: ServerKind,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.once('exit', () => {
      this.exited = true;
    });
  }

  static start(kind: ServerKind, env: Record<string, string>): Promise<ServerProcess> {
    const child = fork(join(import.meta.dirname, 'server.ts'), [], {
      // BENCH_NODE_ARGS, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof', goes to both servers' Node.
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
      env: { ...process.env, ...env, BENCH_SERVER: kind },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the ${kind} server exited (${code}) before it was up`));
      child.once('exit', onExit);
      child.once('message', (reply: ServerReply) => {
        child.off('exit', onExit);
        if (reply.type === 'ready') resolve(new ServerProcess(kind, child, reply.port));
        else reject(new Error(`the ${kind} server did not start: ${reply.message}`));
      });
    });
  }

  get eventsUrl(): string {
    return `http://127.0.0.1:${this.port}/slack/events`;
  }

  /** Disconnects the IPC channel, on which the server stops itself and exits; SIGKILL after 30 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (this.child.connected) this.child.disconnect();
    await Promise.race([exited, sleep(30_000)]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

interface Round {
  /** Milliseconds from sending each request to its complete HTTP response (the acknowledgement). */
  acks: number[];
  /** Milliseconds from sending each request to its answer at response_url (warren only). */
  answers: number[];
  failures: string[];
  unanswered: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Sends CONCURRENCY signed `/rabbit <TEXT>` at once; with `answers`, also waits for each one's response_url post. */
async function burst(server: ServerProcess, fake: FakeSlack, answers: boolean): Promise<Round> {
  const requests = Array.from({ length: CONCURRENCY }, () => {
    const id = randomUUID();
    const body = slashCommandBody({
      text: TEXT,
      user_id: 'U0BENCH',
      channel_id: 'C0OPS',
      response_url: fake.responseUrl(id),
    });
    const answered = answers ? fake.waitForResponse((r) => r.id === id, ANSWER_TIMEOUT_MS) : undefined;
    // A round that fails on its acknowledgements never awaits these; they must not be unhandled rejections.
    answered?.catch(() => undefined);
    return { body, answered };
  });
  const round: Round = { acks: [], answers: [], failures: [], unanswered: 0 };
  await Promise.all(
    requests.map(async ({ body, answered }) => {
      const started = performance.now();
      try {
        const ack = await postToBolt(server.eventsUrl, SIGNING_SECRET, body);
        if (ack.status !== 200) {
          round.failures.push(`HTTP ${ack.status} ${ack.body.slice(0, 100)}`);
          return;
        }
        round.acks.push(ack.ms);
      } catch (error) {
        round.failures.push(error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : String(error));
        return;
      }
      if (!answered) return;
      try {
        await answered;
        round.answers.push(performance.now() - started);
      } catch {
        round.unanswered++;
      }
    }),
  );
  fake.reset();
  return round;
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;
const ms = (value: number): string => `${value.toFixed(1)} ms`;
const spread = (values: number[]): string =>
  `p50 ${ms(percentile(values, 0.5))}, p99 ${ms(percentile(values, 0.99))}, max ${ms(Math.max(...values))}`;

async function main(): Promise<void> {
  console.log(
    `bench/commands: ${ROUNDS} rounds of ${CONCURRENCY} concurrent /rabbit ${TEXT} after 1 warm-up round, ` +
      `warren vs bare Bolt; ${cpus().length} cores, load average ${loadAverage()}`,
  );
  console.log(`  ${runInfo('start')}`);
  const stack = await startLocalStack({ nodes: 3, log: (line) => console.log(`  [devstack] ${line}`) });
  let fake: FakeSlack | undefined;
  const servers: ServerProcess[] = [];
  try {
    fake = await FakeSlack.start();
    const env = {
      BENCH_SIGNING_SECRET: SIGNING_SECRET,
      BENCH_SLACK_API_URL: fake.apiUrl,
      BENCH_STACK: JSON.stringify(stack.describe()),
    };
    const warren = await ServerProcess.start('warren', env);
    servers.push(warren);
    const bare = await ServerProcess.start('bare', env);
    servers.push(bare);
    console.log(`  warren on port ${warren.port}, bare Bolt on port ${bare.port}; load average ${loadAverage()}`);

    const run = (server: ServerProcess) => burst(server, fake as FakeSlack, server === warren);
    const warm = { warren: await run(warren), bare: await run(bare) };
    console.log(
      `  warm-up: warren ${spread(warm.warren.acks)}; bare ${spread(warm.bare.acks)}; ` +
        `${warm.warren.failures.length + warm.bare.failures.length} failures, ${warm.warren.unanswered} unanswered`,
    );

    const all: Record<ServerKind, Round> = {
      warren: { acks: [], answers: [], failures: [], unanswered: 0 },
      bare: { acks: [], answers: [], failures: [], unanswered: 0 },
    };
    const roundRatios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [warren, bare] : [bare, warren];
      const rounds: Partial<Record<ServerKind, Round>> = {};
      for (const server of order) {
        await sleep(PAUSE_MS);
        const result = await run(server);
        rounds[server.kind] = result;
        const total = all[server.kind];
        total.acks.push(...result.acks);
        total.answers.push(...result.answers);
        total.failures.push(...result.failures);
        total.unanswered += result.unanswered;
      }
      const w = rounds.warren as Round;
      const b = rounds.bare as Round;
      roundRatios.push(percentile(w.acks, 0.99) / percentile(b.acks, 0.99));
      const problems = w.failures.length + b.failures.length + w.unanswered;
      console.log(
        `  round ${String(r + 1).padStart(2)} (${order[0]?.kind} first): warren ack p50 ` +
          `${ms(percentile(w.acks, 0.5))} p99 ${ms(percentile(w.acks, 0.99))}, answer p99 ` +
          `${ms(percentile(w.answers, 0.99))}; bare ack p50 ${ms(percentile(b.acks, 0.5))} p99 ` +
          `${ms(percentile(b.acks, 0.99))}${problems > 0 ? `; ${problems} FAILED` : ''}`,
      );
    }

    const w = all.warren;
    const b = all.bare;
    const p50 = percentile(w.acks, 0.5);
    const p99 = percentile(w.acks, 0.99);
    const bareP99 = percentile(b.acks, 0.99);
    const pooledRatio = p99 / bareP99;
    const ratio = percentile(roundRatios, 0.5);
    console.log(`  warren /rabbit ${TEXT} ack:  ${w.acks.length} requests, ${spread(w.acks)}`);
    console.log(`  bare Bolt no-op ack:        ${b.acks.length} requests, ${spread(b.acks)}`);
    console.log(`  warren ${TEXT} answer (response_url): ${w.answers.length} answers, ${spread(w.answers)}`);
    console.log(`  p99 ratio per round: ${roundRatios.map((r) => r.toFixed(2)).join(', ')}`);
    console.log(
      `  targets: p99 ${ms(p99)} < ${P99_TARGET_MS} ms ${p99 < P99_TARGET_MS ? 'met' : 'MISSED'}; ` +
        `median round ratio ${ratio.toFixed(2)} ≤ ${RATIO_TARGET} ${ratio <= RATIO_TARGET ? 'met' : 'MISSED'} ` +
        `(pooled p99s: ${pooledRatio.toFixed(2)})`,
    );
    const failures = [...w.failures.map((f) => `warren: ${f}`), ...b.failures.map((f) => `bare: ${f}`)];
    console.log(
      `  failures: ${w.failures.length} warren and ${b.failures.length} bare requests not acknowledged with ` +
        `HTTP 200, ${w.unanswered} commands unanswered within ${ANSWER_TIMEOUT_MS / 1000} s; load average ${loadAverage()}`,
    );
    for (const failure of [...new Set(failures)].slice(0, 10)) console.log(`    ${failure}`);
    console.log(`  ${runInfo('end')}`);
    console.log(
      `BENCH commands ${JSON.stringify({
        requests: w.acks.length,
        p50_ms: round1(p50),
        p99_ms: round1(p99),
        bare_p99_ms: round1(bareP99),
        ratio: Math.round(ratio * 100) / 100,
        pooled_ratio: Math.round(pooledRatio * 100) / 100,
        round_ratios: roundRatios.map((r) => Math.round(r * 100) / 100),
      })}`,
    );
    if (failures.length > 0 || w.unanswered > 0) {
      throw new Error('some requests failed: the figures above leave them out');
    }
  } finally {
    for (const server of servers) await server.stop();
    await fake?.stop();
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
