/**
 * bench/health: one full health sweep of a cluster as warren runs it (`HealthMonitor.sweep`: the snapshot fetch
 * through the management API, every check of `allChecks`, the alert lifecycle in Redis) on a 3-node local cluster
 * grown to 1,000, 10,000, 30,000 and 100,000 queues with 1,000 oslo-like connections. At each size it times the
 * sweep (median of BENCH_RUNS, default 3), the fetch and checks alone (`evaluate`, no alert state), the peak RSS
 * during the sweep, and as the baseline `rabbitmqctl list_queues name messages consumers` on the same cluster, run
 * as many times.
 *
 * The baseline is fair because it is what an operator runs today to see the same thing: every queue of the cluster
 * with its depth and consumer count, read by the broker itself with no HTTP, JSON or Node in between (the CLI's
 * own VM start, about a second, is part of what an operator waits for, as warren's HTTP requests are part of the
 * sweep). The sweep reads more than that (connections, nodes, policies, each node's health endpoints) and judges
 * it; both run one after the other on the same quiet cluster, so they share the two cores equally. The load
 * (queues, connections, consumers) lives in a child process, so the RSS is warren's alone.
 *
 *   npm run bench -- health          (BENCH_QUEUES=1000,5000 and BENCH_RUNS=1 for a quick run)
 */

import { type ChildProcess, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { ChannelPacer } from '../../src/chat/channel-pacer.js';
import type { ChatPort } from '../../src/chat/chat-message.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import { healthSchema } from '../../src/config/health-schema.js';
import { type LocalStack, startLocalStack } from '../../src/devstack/index.js';
import { outcomeOf } from '../../src/health/check-run.js';
import { HealthMonitor } from '../../src/health/health-monitor.js';
import { createLogger } from '../../src/logger.js';
import { ManagementClient } from '../../src/management/management-client.js';
import { PrometheusEndpoints } from '../../src/management/prometheus-endpoints.js';
import { PrometheusQueueMetrics } from '../../src/management/prometheus-queue-metrics.js';
import { cpuSeconds } from '../support/process-cpu.js';
import { loadAverage, runInfo } from '../support/run-info.js';
import type { LoadReply, LoadRequest } from './load.js';

const SIZES = (process.env.BENCH_QUEUES ?? '1000,10000,30000,100000').split(',').map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLUSTER = 'bench';
const SETTLE_WINDOW_MS = 3_000;
const SETTLE_CORES = 0.75;

interface Row {
  queues: number;
  connections: number;
  consumers: number;
  sweepS: number;
  evaluateS: number;
  baselineS: number;
  ratio: number;
  /** Each complete run's own ratio (sweep / CLI of the same run), in run order. */
  ratios: number[];
  rssMb: number;
  queueListingS: number;
  consumerListingS: number;
  findings: number;
  /** Runs left out because the sweep could not read the whole cluster. */
  failed: number;
}

const anyList = z.array(z.unknown());
// The two big reads of the sweep, timed alone as the sweep asks them: the queue listing (without depths when the
// metrics give them) and the depths' source (every node's metrics, or the consumer listing).
const QUEUE_PARAMS_WITH_METRICS = { disable_stats: 'true', sort: '' };
const QUEUE_PARAMS = { disable_stats: 'true', enable_queue_totals: 'true', sort: '' };
const CONSUMER_PARAMS = { columns: 'queue.name,queue.vhost', sort: '' };

/** The load child: one request at a time, answered by one reply. */
class Load {
  private readonly child: ChildProcess;
  private exited = false;

  constructor(amqpUrls: string[]) {
    this.child = fork(join(import.meta.dirname, 'load.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_AMQP_URLS: JSON.stringify(amqpUrls) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.once('exit', () => {
      this.exited = true;
    });
  }

  request(request: LoadRequest): Promise<Exclude<LoadReply, { type: 'error' }>> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load process exited (${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (reply: LoadReply) => {
        this.child.off('exit', onExit);
        if (reply.type === 'error') reject(new Error(`load: ${reply.message}`));
        else resolve(reply);
      });
      this.child.send(request);
    });
  }

  /** Closes the connections, then lets the child go (it exits when the IPC channel closes). */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timeout = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([this.request({ type: 'close' }).catch(() => undefined), timeout(30_000)]);
    if (this.child.connected) this.child.disconnect();
    await Promise.race([exited, timeout(5_000)]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Polls until the management API counts what the load created (its stats lag a few seconds behind). */
async function waitForTotals(
  management: ManagementClient,
  want: { queues: number; connections: number; consumers: number; messages: number },
): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + 300_000;
  let seen = '';
  for (;;) {
    const overview = await management.overview().catch(() => undefined);
    const totals = overview?.object_totals;
    const messages = overview?.queue_totals?.messages ?? 0;
    seen = `${totals?.queues} queues, ${totals?.connections} connections, ${totals?.consumers} consumers, ${messages} messages`;
    if (
      totals &&
      totals.queues >= want.queues &&
      totals.connections >= want.connections &&
      totals.consumers >= want.consumers &&
      messages >= want.messages
    ) {
      return (performance.now() - started) / 1000;
    }
    if (Date.now() > deadline) throw new Error(`the management API still shows ${seen}; want ${JSON.stringify(want)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Waits until the broker is back to its background work (stats collection) before a measurement: growing the
 * cluster, and the CLI waking all 30,000 queue processes (which then hibernate one by one), keep the nodes busy
 * for a while, which would be charged to whatever runs next. Polls the nodes' CPU over a sliding window of
 * SETTLE_WINDOW_MS until it is below SETTLE_CORES, for at most a minute; returns how long that took.
 */
async function settle(pids: number[]): Promise<{ seconds: number; cores: number }> {
  const started = performance.now();
  const samples: { at: number; cpu: number }[] = [];
  for (;;) {
    const at = performance.now();
    samples.push({ at, cpu: cpuSeconds(pids) });
    while (samples.length > 1 && at - (samples[1] as { at: number }).at >= SETTLE_WINDOW_MS) samples.shift();
    const first = samples[0] as { at: number; cpu: number };
    if (at - first.at >= SETTLE_WINDOW_MS) {
      const cores = ((samples.at(-1)?.cpu ?? 0) - first.cpu) / ((at - first.at) / 1000);
      if (cores < SETTLE_CORES || at - started > 60_000) return { seconds: (at - started) / 1000, cores };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Runs `work`, sampling this process's RSS every 20 ms; returns its duration and the peak RSS. */
async function measured<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number; peakRss: number }> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  try {
    const value = await work();
    return {
      value,
      seconds: (performance.now() - started) / 1000,
      peakRss: Math.max(peakRss, process.memoryUsage().rss),
    };
  } finally {
    clearInterval(sampler);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

async function baseline(stack: LocalStack, node: string, queues: number): Promise<number> {
  const started = performance.now();
  const result = await stack.rabbitmqctl(node, ['list_queues', 'name', 'messages', 'consumers'], {
    timeoutMs: 300_000,
  });
  const seconds = (performance.now() - started) / 1000;
  const lines = result.stdout.split('\n').filter((line) => line.includes('\t')).length;
  if (result.code !== 0 || lines < queues) {
    throw new Error(`rabbitmqctl list_queues: exit ${result.code}, ${lines} queues listed\n${result.stderr}`);
  }
  return seconds;
}

function printTable(rows: Row[]): void {
  const header = [
    'queues',
    'conns',
    'consumers',
    'sweep s',
    'fetch+checks s',
    'CLI s',
    'ratio',
    'run ratios',
    'peak RSS MB',
    'sweep ms/1k q',
    'GET queues s',
    'metrics or consumers s',
    'failed runs',
  ];
  const lines = rows.map((r) => [
    String(r.queues),
    String(r.connections),
    String(r.consumers),
    r.sweepS.toFixed(2),
    r.evaluateS.toFixed(2),
    r.baselineS.toFixed(2),
    r.ratio.toFixed(2),
    r.ratios.map((x) => x.toFixed(2)).join('/'),
    String(r.rssMb),
    String(Math.round((r.sweepS * 1000) / (r.queues / 1000))),
    r.queueListingS.toFixed(2),
    r.consumerListingS.toFixed(2),
    String(r.failed),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: string[]) => `  ${cells.map((c, i) => c.padStart(widths[i] as number)).join('  ')}`;
  console.log(format(header));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  console.log(
    `bench/health: ${SIZES.join(' → ')} queues, ${CONNECTIONS} connections, ${RUNS} runs per size; ` +
      `${cpus().length} cores, load average ${loadAverage()}`,
  );
  console.log(`  ${runInfo('start')}`);
  const stack = await startLocalStack({ nodes: 3, log: (line) => console.log(`  [devstack] ${line}`) });
  let load: Load | undefined;
  let redis: Redis | undefined;
  try {
    load = new Load(stack.nodes.map((n) => n.amqpUrl));
    const health = healthSchema.parse({});
    const cluster = {
      name: CLUSTER,
      amqp: stack.nodes.map((n) => n.amqpUrl),
      management: stack.nodes.map((n) => n.managementUrl),
      managementUser: stack.username,
      managementPassword: stack.password,
      // As an operator of a large cluster would configure it: queue depths from each node's Prometheus plugin.
      // BENCH_DEPTHS=management measures the sweep without it.
      ...(process.env.BENCH_DEPTHS === 'management' ? {} : { prometheus: stack.nodes.map((n) => n.prometheusUrl) }),
      vhost: '/',
    };
    const clusters = new ClusterDirectory([cluster], { managementTimeoutMs: health.requestTimeout });
    // For timing the two big listings alone: what the broker takes, however long, not warren's 10 s timeout.
    const patient = new ManagementClient(cluster, { timeoutMs: 300_000 });
    const metrics = cluster.prometheus
      ? new PrometheusQueueMetrics(new PrometheusEndpoints(cluster.prometheus, { timeoutMs: 300_000 }))
      : undefined;
    redis = new Redis(stack.redisUrl, { enableAutoPipelining: true });
    let posts = 0;
    let updates = 0;
    const chat: ChatPort = {
      post: async (channel) => ({ channel, ts: String(++posts) }),
      update: async () => {
        updates++;
      },
    };
    const monitor = new HealthMonitor({
      clusters,
      health,
      channel: undefined,
      pacer: new ChannelPacer(redis, 1_000),
      redis,
      chat,
      logger: createLogger('silent'),
    });
    const management = clusters.get(CLUSTER).management;
    const cliNode = stack.nodes[0]?.name as string;
    const brokerPids = Object.values(stack.pids.rabbit);

    const rows: Row[] = [];
    let notApplicable: string[] = [];
    let cannotRun: string[] = [];
    for (const size of SIZES) {
      const grown = await load.request({ type: 'grow', queues: size, connections: CONNECTIONS });
      if (grown.type !== 'grown') throw new Error('unexpected reply from the load process');
      const lagS = await waitForTotals(management, grown);
      console.log(
        `  ${size} queues: grown in ${grown.seconds.toFixed(1)} s (${grown.consumers} consumers, ` +
          `${grown.messages} messages), management stats caught up ${lagS.toFixed(1)} s later; load average ${loadAverage()}`,
      );
      const sweeps: number[] = [];
      const evaluations: number[] = [];
      const baselines: number[] = [];
      const queueListings: number[] = [];
      const consumerListings: number[] = [];
      let peakRss = 0;
      let findings = 0;
      let failed = 0;
      // Up to two more runs for RUNS complete ones: an incomplete sweep is counted, not hidden.
      for (let run = 0; sweeps.length < RUNS && run < RUNS + 2; run++) {
        const settled = [await settle(brokerPids)];
        const cli = await baseline(stack, cliNode, size);
        settled.push(await settle(brokerPids));
        // The bench's own work (the load's replies, the listings timed alone) leaves garbage that is not warren's;
        // collected first, the peak is the sweep's own on top of what a running warren holds.
        collectGarbage();
        const sweep = await measured(() => monitor.sweep(CLUSTER));
        settled.push(await settle(brokerPids));
        const evaluation = await measured(() => monitor.evaluate(CLUSTER));
        const waits = `settled ${settled.map((w) => `${w.seconds.toFixed(0)} s`).join('/')}`;
        const { snapshot, results } = evaluation.value;
        // A check that ran in the evaluation but has no event in the sweep was skipped there: a part of the cluster
        // could not be read, which makes a sweep quick and meaningless. Such runs are counted and left out of the
        // figures (the default request timeout is 10 s). Checks that do not apply here (those that need node
        // control, or another RabbitMQ series) or lack a part this configuration does not read (the Prometheus
        // counters, without the plugin's endpoints) have no event either way; an error reading a part is caught
        // below.
        notApplicable = results.filter((r) => outcomeOf(r) === 'not_applicable').map((r) => r.check.id);
        cannotRun = results.filter((r) => outcomeOf(r) === 'could_not_run').map((r) => r.check.id);
        const skipped = results.filter((r) => r.findings && !(r.check.id in sweep.value.events)).length;
        const errors = Object.values(snapshot.errors);
        // A sweep that meant to read the metrics and fell back measured the other path: not this bench's figure.
        if (cluster.prometheus && snapshot.depths?.from !== 'prometheus') {
          errors.push(`depths from the management API: ${JSON.stringify(snapshot.depths)}`);
        }
        if (!sweep.value.ran || skipped > 0 || errors.length > 0 || (snapshot.queues?.length ?? 0) < size) {
          failed++;
          console.log(
            `    run ${run + 1}: CLI ${cli.toFixed(2)} s, sweep INCOMPLETE after ${sweep.seconds.toFixed(2)} s ` +
              `(${skipped} checks skipped; ${waits}): ` +
              `${errors.join('; ') || 'the fetch after it was complete'}`,
          );
          continue;
        }
        baselines.push(cli);
        sweeps.push(sweep.seconds);
        evaluations.push(evaluation.seconds);
        peakRss = Math.max(peakRss, sweep.peakRss);
        findings = results.reduce((n, r) => n + (r.findings?.length ?? 0), 0);
        // What the broker takes to serve the two listings that dominate the fetch, asked one after the other.
        await settle(brokerPids);
        queueListings.push(
          await timed(() =>
            patient.get('/api/queues', anyList, metrics ? QUEUE_PARAMS_WITH_METRICS : QUEUE_PARAMS, { bert: true }),
          ),
        );
        consumerListings.push(
          await timed(() =>
            metrics ? metrics.readAll() : patient.get('/api/consumers', anyList, CONSUMER_PARAMS, { bert: true }),
          ),
        );
        console.log(
          `    run ${run + 1}: CLI ${cli.toFixed(2)} s, sweep ${sweep.seconds.toFixed(2)} s ` +
            `(peak RSS ${Math.round(sweep.peakRss / 2 ** 20)} MB), fetch+checks ${evaluation.seconds.toFixed(2)} s; ` +
            `alone: queue listing ${queueListings.at(-1)?.toFixed(2)} s, ${metrics ? 'metrics' : 'consumer listing'} ` +
            `${consumerListings.at(-1)?.toFixed(2)} s; ${waits}`,
        );
      }
      if (sweeps.length === 0) {
        printTable(rows);
        throw new Error(`no complete sweep at ${size} queues in ${RUNS + 2} runs`);
      }
      const sweepS = median(sweeps);
      const baselineS = median(baselines);
      rows.push({
        queues: size,
        connections: grown.connections,
        consumers: grown.consumers,
        sweepS,
        evaluateS: median(evaluations),
        baselineS,
        ratio: sweepS / baselineS,
        ratios: sweeps.map((sweep, i) => round(sweep / (baselines[i] as number))),
        rssMb: Math.round(peakRss / 2 ** 20),
        queueListingS: median(queueListings),
        consumerListingS: median(consumerListings),
        findings,
        failed,
      });
    }
    console.log(
      `  queue depths from ${cluster.prometheus ? "each node's Prometheus plugin" : 'the management API'}; ` +
        `medians of ${RUNS} runs; ${monitor.checks.length} checks (not applicable here: ${notApplicable.join(', ') || 'none'}; lacking a part not read here: ${cannotRun.join(', ') || 'none'}), findings per size: ` +
        `${rows.map((r) => r.findings).join(', ')}; chat sink: ${posts} posts, ${updates} updates (no channel)`,
    );
    printTable(rows);
    const last = rows.at(-1) as Row;
    const previous = rows.at(-2);
    console.log(`  ${runInfo('end')}`);
    console.log(
      `BENCH health ${JSON.stringify({
        queues: last.queues,
        sweep_s: round(last.sweepS),
        baseline_s: round(last.baselineS),
        ratio: round(last.ratio),
        ratios: last.ratios,
        failed: last.failed,
        rss_mb: last.rssMb,
        // The sweep's time per queue at the last size over the one before: at most 1 is linear growth or better.
        ...(previous
          ? { growth_per_queue: round(last.sweepS / last.queues / (previous.sweepS / previous.queues)) }
          : {}),
        sizes: rows.map((r) => ({
          queues: r.queues,
          ratio: round(r.ratio),
          ratios: r.ratios,
          failed: r.failed,
          rss_mb: r.rssMb,
        })),
      })}`,
    );
  } finally {
    await load?.stop();
    redis?.disconnect();
    await stack.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
