/**
 * bench/soak: the long run. warren runs for SOAK_MINUTES (default 30) as a child process (`warren start`, Slack HTTP
 * mode, tap and health checks on) against a 3-node local cluster and Redis and a local fake Slack, while a load child
 * publishes SOAK_RATE (default 1,000) oslo notifications per second, mixed (INFO and ERROR, both envelope versions,
 * nova/neutron/openstack), and the bench injects a fault every 5 minutes (a zombie fanout queue or a backlog,
 * alternately), waits for its alert, clears it and waits for the resolution.
 *
 * Every 10 s it scrapes warren's /metrics: RSS, heap, event-loop delay (prom-client's histogram, reset at each
 * scrape, so each sample covers the 10 s before it) and the tap counters. At the end it checks that nothing was
 * lost or doubled: every notification the broker confirmed was consumed by the tap (none invalid or duplicate),
 * every ERROR group warren opened was posted once, and each fault gave exactly one alert post and one resolution.
 *
 * The BENCH line's ratio is RSS growth against a baseline of the same run: the median RSS of the last sixth of the
 * run over that of its second sixth (minutes 25–30 over 5–10 for 30 minutes, after the warm-up), target ≤ 1.1.
 * The slope of a linear fit over the second half says the same in MB/min.
 *
 * Not in the default `npm run bench` set (it takes half an hour): run it by name.
 *
 *   npm run bench -- soak              (SOAK_MINUTES=3 for a quick run; SOAK_RATE, SOAK_ERROR_SHARE)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelModel, connect } from 'amqplib';
import { type LocalStack, startLocalStack } from '../../src/devstack/index.js';
import { pollUntil } from '../../src/remediation/poll.js';
import { FakeSlack, type RecordedCall } from '../../test/support/fake-slack.js';
import { declareZombieFanoutQueue } from '../support/fault-queues.js';
import { cpuSeconds } from '../support/process-cpu.js';
import { loadAverage, runInfo } from '../support/run-info.js';
import { isTopLevelPost } from '../support/slack-calls.js';
import { median, quantile, round, sleep, slope } from '../support/stats.js';
import { BenchError, sumOf, WarrenProcess } from '../support/warren-process.js';
import type { LoadReply, LoadRequest, LoadStats } from './load.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const ERROR_SHARE = Number(process.env.SOAK_ERROR_SHARE ?? 0.05);
const HOSTS = 10;
const DURATION_MS = MINUTES * 60_000;
const SAMPLE_MS = 10_000;
/** One fault per period, in the middle of it; a third of the run for short runs, so they see three. */
const FAULT_PERIOD_MS = Math.max(60_000, Math.min(300_000, DURATION_MS / 3));
const FAULT_WAIT_MS = 120_000;
const GROUP_WINDOW_MS = 300_000;
const TAP_CHANNEL = 'C0TAP';
const HEALTH_CHANNEL = 'C0HEALTH';
const EXCHANGES = ['nova', 'neutron', 'openstack'];

/** The run found lost or doubled work, or could not run as planned. */
class SoakError extends BenchError {
  override name = 'SoakError';
}

interface Sample {
  /** Seconds since the load started. */
  t: number;
  rssMb: number;
  heapMb: number;
  /** Event-loop delay over the 10 s before the sample, from prom-client's histogram (10 ms resolution). */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Notifications the tap received so far, all outcomes. */
  received: number;
  confirmed: number;
  pendingGroups: number;
}

interface FaultRun {
  kind: 'zombie' | 'backlog';
  check: string;
  queue: string;
  injectedAt: number;
  postedAt?: number;
  clearedAt?: number;
  resolvedAt?: number;
  ts?: string;
}

const CHECK_TITLES: Record<string, string> = {
  'zombie-queues': 'Zombie fanout and reply queues',
  backlog: 'Message backlog',
};

/** The load child (load.ts): stats every 10 s, stops on request with its final counts. */
class Load {
  private readonly child: ChildProcess;
  latest?: LoadStats;
  /** Every report, 10 s apart: the rate the machine sustained once warm, not only the average. */
  readonly history: LoadStats[] = [];

  constructor(amqpUrl: string) {
    this.child = fork(join(import.meta.dirname, 'load.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: {
        ...process.env,
        SOAK_AMQP_URL: amqpUrl,
        SOAK_RATE: String(RATE),
        SOAK_ERROR_SHARE: String(ERROR_SHARE),
        SOAK_HOSTS: String(HOSTS),
        SOAK_GROUP_WINDOW_MS: String(GROUP_WINDOW_MS),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply: LoadReply) => {
      if (reply.type === 'ready') return;
      this.latest = reply.stats;
      this.history.push(reply.stats);
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new SoakError(`the load process exited (${code})`));
      this.child.once('exit', onExit);
      const onMessage = (reply: LoadReply) => {
        if (reply.type !== 'ready') return;
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        resolve();
      };
      this.child.on('message', onMessage);
    });
  }

  stop(): Promise<LoadStats> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new SoakError(`the load process exited (${code}) before stopping`));
      this.child.once('exit', onExit);
      this.child.on('message', (reply: LoadReply) => {
        if (reply.type !== 'stopped') return;
        this.child.off('exit', onExit);
        resolve(reply.stats);
      });
      this.child.send({ type: 'stop' } satisfies LoadRequest);
    });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const postTs = (c: RecordedCall) => (c.reply as { ts?: string } | undefined)?.ts;

function checkOfPost(call: RecordedCall): string {
  const text = String(call.params.text ?? '');
  for (const [check, title] of Object.entries(CHECK_TITLES)) if (text.includes(title)) return check;
  return text.split(' on ')[0] ?? text;
}

/** The faults: real broker state warren's checks judge, injected and cleared on a connection of the bench's own. */
class Faults {
  readonly runs: FaultRun[] = [];

  constructor(
    private readonly connection: ChannelModel,
    private readonly fake: FakeSlack,
  ) {}

  async inject(kind: FaultRun['kind'], started: number): Promise<FaultRun> {
    const channel = await this.connection.createConfirmChannel();
    try {
      if (kind === 'zombie') {
        const queue = await declareZombieFanoutQueue(channel);
        const run: FaultRun = { kind, check: 'zombie-queues', queue, injectedAt: Date.now() - started };
        this.runs.push(run);
        return run;
      }
      // A notification consumer that went away: 1,000 ready messages, twice the backlog threshold.
      const queue = 'notifications.sample';
      await channel.assertQueue(queue, { durable: false });
      const body = Buffer.from('{"oslo.version": "2.0", "oslo.message": "{}"}');
      for (let i = 0; i < 1_000; i++) channel.sendToQueue(queue, body);
      const run: FaultRun = { kind, check: 'backlog', queue, injectedAt: Date.now() - started };
      this.runs.push(run);
      return run;
    } finally {
      await channel.close();
    }
  }

  async clear(run: FaultRun, started: number): Promise<void> {
    const channel = await this.connection.createChannel();
    try {
      await channel.deleteQueue(run.queue);
      run.clearedAt = Date.now() - started;
    } finally {
      await channel.close();
    }
  }

  /** The alert's top-level post in the health channel, made after the injection. */
  posted(run: FaultRun, started: number): RecordedCall | undefined {
    return this.fake.calls.find(
      (c) => isTopLevelPost(c, HEALTH_CHANNEL) && checkOfPost(c) === run.check && c.at - started >= run.injectedAt,
    );
  }

  /** The resolution: the message edited to RESOLVED, and the thread reply that says so. */
  resolved(run: FaultRun): boolean {
    const edited = this.fake.calls.some(
      (c) => c.method === 'chat.update' && c.params.ts === run.ts && String(c.params.text).startsWith('RESOLVED'),
    );
    const replied = this.fake.calls.some(
      (c) =>
        c.method === 'chat.postMessage' && c.params.thread_ts === run.ts && String(c.params.text).includes('Resolved'),
    );
    return edited && replied;
  }

  /** One fault's whole cycle: inject, the alert posted, hold a sweep, clear, the alert resolved. */
  async cycle(kind: FaultRun['kind'], started: number, log: (line: string) => void): Promise<void> {
    const run = await this.inject(kind, started);
    log(`fault ${this.runs.length}: ${kind} (${run.queue}) injected at ${(run.injectedAt / 1000).toFixed(0)} s`);
    const post = await pollUntil(async () => this.posted(run, started), FAULT_WAIT_MS, 500);
    if (post) {
      run.postedAt = post.at - started;
      run.ts = postTs(post);
      log(`  alert ${run.check} posted ${((run.postedAt - run.injectedAt) / 1000).toFixed(0)} s after the injection`);
    } else {
      log(`  alert ${run.check} NOT posted within ${FAULT_WAIT_MS / 1000} s`);
    }
    await sleep(SAMPLE_MS);
    await this.clear(run, started);
    if (run.ts && (await pollUntil(async () => this.resolved(run) || undefined, FAULT_WAIT_MS, 500))) {
      run.resolvedAt = Date.now() - started;
      log(`  resolved ${(((run.resolvedAt ?? 0) - (run.clearedAt ?? 0)) / 1000).toFixed(0)} s after clearing`);
    } else {
      log(`  alert ${run.check} NOT resolved within ${FAULT_WAIT_MS / 1000} s of clearing`);
    }
  }
}

/** Whether the tap's server-named queues are bound to each exchange (oslo's exchanges exist before warren starts). */
async function tapBound(stack: LocalStack): Promise<boolean> {
  const node = stack.nodes[0];
  if (!node) return false;
  const auth = `Basic ${Buffer.from(`${stack.username}:${stack.password}`).toString('base64')}`;
  for (const exchange of EXCHANGES) {
    const response = await fetch(`${node.managementUrl}/api/exchanges/%2F/${exchange}/bindings/source`, {
      headers: { authorization: auth },
      signal: AbortSignal.timeout(5_000),
    }).catch(() => undefined);
    if (!response?.ok) return false;
    const bindings = (await response.json()) as { destination: string }[];
    if (!bindings.some((b) => b.destination.startsWith('amq.gen-'))) return false;
  }
  return true;
}

function warrenConfig(): string {
  return `slack:
  alertChannel: ${TAP_CHANNEL}
  # The fake Slack has no rate limit; the real one's 1 s per channel would make tap edits the bottleneck.
  channelInterval: 100ms
tap:
  groupWindow: 5m
  updateInterval: 10s
  bindings:
    - {exchange: nova, routingKeys: [notifications.info, notifications.error, versioned_notifications.info, versioned_notifications.error]}
    - {exchange: neutron, routingKeys: [notifications.info, notifications.error]}
    - {exchange: openstack, routingKeys: [notifications.info, notifications.error]}
  routes:
    - {name: errors, match: {priority: [ERROR, CRITICAL]}, channel: ${TAP_CHANNEL}}
health:
  interval: 10s
  channel: ${HEALTH_CHANNEL}
`;
}

function summarizeLog(file: string): { warn: number; error: number; messages: string[] } {
  let warn = 0;
  let error = 0;
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: number | string; msg?: string };
      const level = Number(entry.level);
      if (level >= 50) error++;
      else if (level >= 40) warn++;
      else continue;
      const msg = String(entry.msg ?? '').slice(0, 120);
      counts.set(msg, (counts.get(msg) ?? 0) + 1);
    } catch {
      error++;
      counts.set(line.slice(0, 120), (counts.get(line.slice(0, 120)) ?? 0) + 1);
    }
  }
  return { warn, error, messages: [...counts].map(([m, n]) => `${n}× ${m}`).slice(0, 10) };
}

async function main(): Promise<void> {
  console.log(
    `bench/soak: ${MINUTES} min, ${RATE} notifications/s (${ERROR_SHARE * 100} % ERROR, ${HOSTS} hosts), a fault ` +
      `every ${FAULT_PERIOD_MS / 60_000} min; ${cpus().length} cores, load average ${loadAverage()}`,
  );
  console.log(`  ${runInfo('start')}`);
  const stack = await startLocalStack({ nodes: 3, log: (line) => console.log(`  [devstack] ${line}`) });
  const dir = mkdtempSync(join(tmpdir(), 'warren-soak-'));
  let fake: FakeSlack | undefined;
  let warren: WarrenProcess | undefined;
  let load: Load | undefined;
  let faultConnection: ChannelModel | undefined;
  try {
    const node0 = stack.nodes[0]?.amqpUrl as string;
    faultConnection = await connect(node0, {
      clientProperties: { connection_name: `nova-compute:${process.pid}:soak-faults` },
    });
    // oslo declares its exchanges on first publish; here they exist before warren, so the tap binds at once.
    const setup = await faultConnection.createChannel();
    for (const exchange of EXCHANGES) await setup.assertExchange(exchange, 'topic', { durable: false });
    await setup.close();

    fake = await FakeSlack.start();
    warren = await WarrenProcess.start(stack, { dir, config: warrenConfig(), slackApiUrl: fake.apiUrl });
    const up = warren;
    if (!(await pollUntil(async () => ((await tapBound(stack)) ? true : undefined), 60_000, 500))) {
      throw new SoakError(`warren's tap did not bind in time; its log:\n${up.tail()}`);
    }
    // A first scrape resets the event-loop histogram, so the first sample does not hold the start-up.
    await warren.metrics();
    console.log(`  warren (pid ${warren.child.pid}) ready, tap bound; load average ${loadAverage()}`);

    load = new Load(stack.nodes[1]?.amqpUrl as string);
    await load.ready();
    const started = Date.now();
    const brokerPids = Object.values(stack.pids.rabbit);
    const cpuAtStart = { warren: cpuSeconds([warren.child.pid as number]), broker: cpuSeconds(brokerPids) };

    const faults = new Faults(faultConnection, fake);
    const log = (line: string) =>
      console.log(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${line}`);
    let faultFailure: unknown;
    const faultLoop = (async () => {
      for (let k = 0; ; k++) {
        const at = k * FAULT_PERIOD_MS + FAULT_PERIOD_MS / 2;
        if (at >= DURATION_MS) return;
        await sleep(started + at - Date.now());
        await faults.cycle(k % 2 === 0 ? 'zombie' : 'backlog', started, log);
      }
    })().catch((error) => {
      // Reported with the figures: the load and the sampling go on, so the memory figures are still worth having.
      faultFailure = error;
      log(`fault injection failed: ${error}`);
    });

    const samples: Sample[] = [];
    const sampler = async () => {
      const m = await (warren as WarrenProcess).metrics();
      const sample: Sample = {
        t: (Date.now() - started) / 1000,
        rssMb: sumOf(m, 'warren_process_resident_memory_bytes') / 2 ** 20,
        heapMb: sumOf(m, 'warren_nodejs_heap_size_used_bytes') / 2 ** 20,
        lagP50Ms: sumOf(m, 'warren_nodejs_eventloop_lag_p50_seconds') * 1000,
        lagP99Ms: sumOf(m, 'warren_nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMaxMs: sumOf(m, 'warren_nodejs_eventloop_lag_max_seconds') * 1000,
        received: sumOf(m, 'warren_tap_events_total'),
        confirmed: load?.latest?.confirmed ?? 0,
        pendingGroups: sumOf(m, 'warren_tap_pending_groups'),
      };
      const previous = samples.at(-1);
      samples.push(sample);
      const rate = previous ? (sample.received - previous.received) / (sample.t - previous.t) : 0;
      const reports = load?.history ?? [];
      const [before, last] = [reports.at(-2), reports.at(-1)];
      const sentRate = before && last ? (last.confirmed - before.confirmed) / (last.seconds - before.seconds) : 0;
      log(
        `RSS ${sample.rssMb.toFixed(0)} MB, heap ${sample.heapMb.toFixed(0)} MB, lag p50/p99/max ` +
          `${sample.lagP50Ms.toFixed(1)}/${sample.lagP99Ms.toFixed(1)}/${sample.lagMaxMs.toFixed(0)} ms, ` +
          `consumed ${sample.received} (${rate.toFixed(0)}/s), confirmed ${sample.confirmed} ` +
          `(${sentRate.toFixed(0)}/s, ${last?.behind ?? 0} behind), ` +
          `pending groups ${sample.pendingGroups}, load ${loadAverage()}`,
      );
    };
    while (Date.now() - started < DURATION_MS) {
      await sleep(started + (samples.length + 1) * SAMPLE_MS - Date.now());
      await sampler().catch((error) => log(`sample failed: ${error}`));
    }
    const loadSeconds = (Date.now() - started) / 1000;
    const sent = await load.stop();
    const cpuAtEnd = { warren: cpuSeconds([warren.child.pid as number]), broker: cpuSeconds(brokerPids) };
    log('load stopped; waiting for the last fault cycle and for warren to drain');
    await faultLoop;

    // Drained: every confirmed notification counted by the tap, and no Slack work left in Redis.
    const drained = await pollUntil(async () => {
      const m = await (warren as WarrenProcess).metrics();
      return sumOf(m, 'warren_tap_events_total') >= sent.confirmed && sumOf(m, 'warren_tap_pending_groups') === 0
        ? m
        : undefined;
    }, 120_000);
    // The last poll's figures, or a fresh scrape when it timed out: the shortfall is then reported, not hidden.
    const final = drained ?? (await warren.metrics());
    await sleep(3_000);
    const calls = fake.calls;

    // --- tap accounting
    const tap = {
      received: sumOf(final, 'warren_tap_events_total'),
      opened: sumOf(final, 'warren_tap_events_total', ['outcome="new"']),
      grouped: sumOf(final, 'warren_tap_events_total', ['outcome="grouped"']),
      unrouted: sumOf(final, 'warren_tap_events_total', ['outcome="unrouted"']),
      duplicate: sumOf(final, 'warren_tap_events_total', ['outcome="duplicate"']),
      invalid: sumOf(final, 'warren_tap_events_total', ['outcome="invalid"']),
      dropped:
        sumOf(final, 'warren_tap_events_total', ['outcome="dropped"']) +
        sumOf(final, 'warren_tap_events_total', ['outcome="no_channel"']),
      reconnects: sumOf(final, 'warren_tap_reconnects_total'),
      slackPosts: sumOf(final, 'warren_tap_slack_total', ['action="post"']),
      slackUpdates: sumOf(final, 'warren_tap_slack_total', ['action="update"']),
      slackReplies: sumOf(final, 'warren_tap_slack_total', ['action="reply"']),
      slackErrors: sumOf(final, 'warren_tap_slack_total', ['action="error"']),
      pending: sumOf(final, 'warren_tap_pending_groups'),
    };
    const tapPosts = calls.filter((c) => isTopLevelPost(c, TAP_CHANNEL));
    // A group is its key and its first event: the same pair posted twice is a duplicate. Groups of one key follow
    // each other a window apart, however late the paced Slack queue posts them.
    const groups = new Map<string, number>();
    const firstSeenByKey = new Map<string, number[]>();
    let slowestPostS = 0;
    for (const post of tapPosts) {
      const blocks = JSON.stringify(post.params.blocks ?? '');
      const key = /grouped by ([^·"]+)/.exec(blocks)?.[1]?.trim() ?? String(post.params.text);
      const first = /events? (?:at )?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)/.exec(blocks)?.[1] ?? '';
      groups.set(`${key}\u0000${first}`, (groups.get(`${key}\u0000${first}`) ?? 0) + 1);
      const firstMs = Date.parse(first.replace(' ', 'T'));
      firstSeenByKey.set(key, [...(firstSeenByKey.get(key) ?? []), firstMs]);
      slowestPostS = Math.max(slowestPostS, (post.at - firstMs) / 1000);
    }
    const tapDuplicates = [...groups.values()].reduce((n, count) => n + count - 1, 0);
    const gaps = [...firstSeenByKey.values()].flatMap((times) =>
      times.slice(1).map((t, i) => t - (times[i] as number)),
    );
    const shortestGapS = gaps.length > 0 ? Math.min(...gaps) / 1000 : Number.NaN;

    // --- alert accounting
    const healthPosts = calls.filter((c) => isTopLevelPost(c, HEALTH_CHANNEL));
    const expectedChecks = new Set(faults.runs.map((r) => r.check));
    const alertsPosted = healthPosts.filter((c) => expectedChecks.has(checkOfPost(c))).length;
    const unexpected = healthPosts.filter((c) => !expectedChecks.has(checkOfPost(c))).map(checkOfPost);
    const alertDuplicates = Math.max(0, alertsPosted - faults.runs.length);
    // Every post that is not a fault's own alert, with what it said: a second post of a fault, or a finding of the
    // run itself (warren's own tap queue falling behind, say).
    const faultTs = new Set(faults.runs.map((r) => r.ts));
    const extraPosts = healthPosts
      .filter((c) => !faultTs.has(postTs(c)))
      .map((c) => {
        const resolvedAt = calls.find(
          (u) =>
            u.method === 'chat.update' && u.params.ts === postTs(c) && String(u.params.text).startsWith('RESOLVED'),
        )?.at;
        const when = (ms: number) => `${((ms - started) / 1000).toFixed(0)} s`;
        const blocks = JSON.stringify(c.params.blocks ?? '').slice(0, 600);
        return `at ${when(c.at)} (resolved ${resolvedAt ? when(resolvedAt) : 'never'}): ${String(c.params.text).slice(0, 300)} | ${blocks}`;
      });
    const lostAlerts = faults.runs.filter((r) => !r.ts).length;
    const unresolved = faults.runs.filter((r) => r.ts && r.resolvedAt === undefined).length;
    // Resolution thread replies per posted alert: exactly one each.
    const resolutionReplies = faults.runs.map(
      (r) =>
        calls.filter(
          (c) =>
            c.method === 'chat.postMessage' &&
            c.params.thread_ts === r.ts &&
            String(c.params.text).includes('Resolved'),
        ).length,
    );

    // --- memory and lag
    const warmupS = DURATION_MS / 6 / 1000;
    const inWindow = (from: number, to: number) => samples.filter((s) => s.t > from && s.t <= to);
    const baselineRss = median(inWindow(warmupS, 2 * warmupS).map((s) => s.rssMb));
    const firstRss = median(inWindow(0, warmupS).map((s) => s.rssMb));
    const lastRss = median(inWindow(loadSeconds - warmupS, loadSeconds).map((s) => s.rssMb));
    const secondHalf = samples.filter((s) => s.t > loadSeconds / 2);
    const rssSlope = slope(secondHalf.map((s) => ({ x: s.t / 60, y: s.rssMb }))) || 0;
    const heapSlope = slope(secondHalf.map((s) => ({ x: s.t / 60, y: s.heapMb }))) || 0;
    const rss = samples.map((s) => s.rssMb);
    const lagP50 = median(samples.map((s) => s.lagP50Ms));
    const lagP99 = median(samples.map((s) => s.lagP99Ms));
    const lagP99Worst = Math.max(...samples.map((s) => s.lagP99Ms));
    const lagMax = Math.max(...samples.map((s) => s.lagMaxMs));
    // warren's first seconds under load (lazy module loading, JIT, a cold Redis script cache) are not its steady state.
    const warm = samples.filter((s) => s.t > warmupS);
    const warmLagP99Worst = Math.max(...warm.map((s) => s.lagP99Ms));
    const warmLagMax = Math.max(...warm.map((s) => s.lagMaxMs));
    const warmReport = load.history.find((r) => r.seconds > warmupS);
    const steadyRate = warmReport
      ? (sent.confirmed - warmReport.confirmed) / (sent.seconds - warmReport.seconds)
      : sent.confirmed / sent.seconds;
    const rates = samples
      .slice(1)
      .map((s, i) => (s.received - (samples[i] as Sample).received) / (s.t - (samples[i] as Sample).t));
    const logSummary = summarizeLog(warren.logFile);

    console.log('\nFigures');
    console.log(
      `  load: ${sent.published} published, ${sent.confirmed} confirmed, ${sent.nacked} nacked in ` +
        `${sent.seconds.toFixed(0)} s: ${(sent.confirmed / loadSeconds).toFixed(0)}/s confirmed against ${RATE}/s asked ` +
        `(${sent.behind} behind schedule), ${steadyRate.toFixed(0)}/s after the first sixth; ${sent.info} INFO, ` +
        `${sent.error} ERROR`,
    );
    console.log(
      `  tap: ${tap.received} consumed (${tap.unrouted} INFO unrouted, ${tap.opened} groups opened, ${tap.grouped} ` +
        `grouped), ${tap.duplicate} duplicate, ${tap.invalid} invalid, ${tap.dropped} dropped, ${tap.reconnects} ` +
        `reconnects; consumed rate per 10 s window min/median/max ` +
        `${quantile(rates, 0).toFixed(0)}/${median(rates).toFixed(0)}/${quantile(rates, 1).toFixed(0)} per s`,
    );
    console.log(
      `  tap groups: ${sent.expectedGroups} expected from the published ERRORs, ${tap.opened} opened, ` +
        `${tapPosts.length} posted to the fake Slack (warren counted ${tap.slackPosts} posts, ${tap.slackUpdates} ` +
        `edits, ${tap.slackReplies} samples, ${tap.slackErrors} errors), ${tapDuplicates} posted twice, ` +
        `${tap.pending} still pending; first events of one key at least ${shortestGapS.toFixed(0)} s apart, ` +
        `a group posted at most ${slowestPostS.toFixed(0)} s after its first event`,
    );
    for (const [i, run] of faults.runs.entries()) {
      const s = (ms?: number) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(0)} s`);
      console.log(
        `  fault ${i + 1} ${run.kind}: injected ${s(run.injectedAt)}, posted ${s(run.postedAt)}, cleared ` +
          `${s(run.clearedAt)}, resolved ${s(run.resolvedAt)}, resolution replies ${resolutionReplies[i]}`,
      );
    }
    console.log(
      `  alerts: ${faults.runs.length} expected, ${alertsPosted} posted, ${alertDuplicates} duplicated, ` +
        `${lostAlerts} lost, ${unresolved} unresolved; other alerts: ${unexpected.length ? unexpected.join(', ') : 'none'}`,
    );
    for (const line of extraPosts) console.log(`  alert post not matched to a fault ${line}`);
    console.log(
      `  RSS MB: min ${Math.min(...rss).toFixed(0)}, median ${median(rss).toFixed(0)}, max ` +
        `${Math.max(...rss).toFixed(0)}; medians first sixth ${firstRss.toFixed(1)}, second sixth (baseline) ` +
        `${baselineRss.toFixed(1)}, last sixth ${lastRss.toFixed(1)}; slope over the second half ` +
        `${rssSlope.toFixed(3)} MB/min RSS, ${heapSlope.toFixed(3)} MB/min heap used`,
    );
    console.log(
      `  RSS per minute: ${samples
        .filter((_, i) => i % 6 === 5)
        .map((s) => s.rssMb.toFixed(0))
        .join(' ')}`,
    );
    console.log(
      `  heap used per minute: ${samples
        .filter((_, i) => i % 6 === 5)
        .map((s) => s.heapMb.toFixed(0))
        .join(' ')}`,
    );
    console.log(
      `  event-loop delay ms (per 10 s window, 10 ms resolution): p50 median ${lagP50.toFixed(1)}, p99 median ` +
        `${lagP99.toFixed(1)}, p99 worst ${lagP99Worst.toFixed(1)}, max ${lagMax.toFixed(0)}; after the first sixth: ` +
        `p99 worst ${warmLagP99Worst.toFixed(1)}, max ${warmLagMax.toFixed(0)}`,
    );
    console.log(
      `  CPU over the load: warren ${(cpuAtEnd.warren - cpuAtStart.warren).toFixed(0)} s ` +
        `(${(((cpuAtEnd.warren - cpuAtStart.warren) / loadSeconds) * 100).toFixed(0)} % of a core), broker ` +
        `${(cpuAtEnd.broker - cpuAtStart.broker).toFixed(0)} s; load average at the end ${loadAverage()}`,
    );
    console.log(`  warren log: ${logSummary.warn} warnings, ${logSummary.error} errors`);
    for (const line of logSummary.messages) console.log(`    ${line}`);

    const problems: string[] = [];
    if (tap.received !== sent.confirmed) problems.push(`tap consumed ${tap.received} of ${sent.confirmed} confirmed`);
    if (tap.invalid > 0 || tap.duplicate > 0)
      problems.push(`${tap.invalid} invalid, ${tap.duplicate} duplicate events`);
    if (tap.unrouted !== sent.info || tap.opened + tap.grouped !== sent.error) {
      problems.push(`INFO/ERROR split ${tap.unrouted}/${tap.opened + tap.grouped}, sent ${sent.info}/${sent.error}`);
    }
    if (tapPosts.length !== tap.opened || tapDuplicates > 0 || tap.pending > 0) {
      problems.push(`tap groups: ${tap.opened} opened, ${tapPosts.length} posted, ${tapDuplicates} twice`);
    }
    if (lostAlerts || alertDuplicates || unresolved || unexpected.length || resolutionReplies.some((n) => n !== 1)) {
      problems.push('alerts lost, duplicated, unresolved or unexpected');
    }
    if (faultFailure) problems.push(`fault injection failed: ${faultFailure}`);
    for (const problem of problems) console.log(`  PROBLEM: ${problem}`);

    const result = {
      minutes: MINUTES,
      rss_growth_ratio: round(lastRss / baselineRss, 3),
      rss_baseline_mb: round(baselineRss, 1),
      rss_last_mb: round(lastRss, 1),
      rss_slope_mb_per_min: round(rssSlope, 3),
      lag_p50_ms: round(lagP50, 1),
      lag_p99_ms: round(lagP99, 1),
      lag_p99_worst_ms: round(lagP99Worst, 1),
      lag_max_ms: round(lagMax, 0),
      lag_p99_worst_warm_ms: round(warmLagP99Worst, 1),
      lag_max_warm_ms: round(warmLagMax, 0),
      rate_asked: RATE,
      rate_confirmed: round(sent.confirmed / loadSeconds, 0),
      rate_confirmed_warm: round(steadyRate, 0),
      events_published: sent.confirmed,
      events_consumed: tap.received,
      invalid: tap.invalid,
      tap_groups_opened: tap.opened,
      tap_groups_posted: tapPosts.length,
      tap_duplicates: tapDuplicates,
      alerts_expected: faults.runs.length,
      alerts_posted: alertsPosted,
      alerts_resolved: faults.runs.filter((r) => r.resolvedAt !== undefined).length,
      alert_duplicates: alertDuplicates,
      unexpected_alerts: unexpected.length,
    };
    console.log(`  ${runInfo('end')}`);
    console.log(`BENCH soak ${JSON.stringify(result)}`);
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    load?.kill();
    const code = await warren?.stop();
    if (code !== undefined && code !== 0) console.log(`  warren exited with ${code}`);
    await faultConnection?.close().catch(() => undefined);
    await fake?.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
