/**
 * Owns the lifecycle of a local stack: one redis-server and an N-node RabbitMQ cluster on loopback, in one base
 * directory, started from the machine's Debian packages and torn down without leaving processes or files behind.
 * Must not touch anything it did not start: system services on the default ports, other Erlang nodes and an epmd
 * that was already running are left alone. Never logs or puts in an error the password or the Erlang cookie.
 */

import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import {
  checkTraversable,
  prepareBaseDir,
  readStackState,
  runAsOwnerOf,
  type StackState,
  writeCookie,
  writeStackState,
} from './base-dir.js';
import {
  type BrokerRuntime,
  describeRuntime,
  ensureBrokerRuntime,
  runtimeOf,
  seriesFromEnv,
} from './broker-runtime.js';
import { registerExitCleanup } from './cleanup.js';
import { epmdNames, killEpmdIfUnused, killEpmdIfUnusedSync } from './epmd.js';
import { LocalStackError } from './errors.js';
import { isRoot } from './install.js';
import { chooseShortNames, releaseNames } from './node-names.js';
import { allocatePorts, isPortOpen } from './ports.js';
import { belongsTo, isAlive, killIfOurs, sweep, sweepSync, waitForExit, waitUntil } from './processes.js';
import {
  awaitNodeStartup,
  killNodeProcesses,
  type NodeContext,
  type NodeSpec,
  nodeDir,
  nodeLogTail,
  prepareNode,
  type RunningNode,
  readBeamPid,
  runOwnRabbitmqctl,
  runRabbitmqctl,
  spawnNode,
} from './rabbit-node.js';
import { type RedisHandle, startRedis, stopRedis } from './redis-server.js';
import type {
  LocalRabbitNode,
  LocalStack,
  LocalStackDescription,
  LocalStackOptions,
  RabbitCli,
  RabbitmqctlResult,
} from './types.js';

const USERNAME = 'warren';
const HOST = 'localhost';

const noop = (): void => {};

/** Shape of a stack as seen by the code that drives it; shared by startLocalStack and attachLocalStack. */
class StackHandle implements LocalStack {
  baseDir: string;
  redisUrl: string;
  nodes: LocalRabbitNode[];
  username: string;
  password: string;
  cookieHome: string;
  pids: { redis: number; rabbit: Record<string, number> };
  rabbitmq: LocalStackDescription['rabbitmq'];

  private readonly ctx: NodeContext;
  readonly specs: NodeSpec[];
  private readonly wrappers = new Map<string, RunningNode>();
  private redisChild: RedisHandle['child'];
  private stopping: Promise<void> | undefined;
  private unregister: () => void = noop;

  constructor(
    desc: LocalStackDescription,
    private readonly runtime: BrokerRuntime,
    private readonly state: StackState,
    private readonly log: (line: string) => void,
  ) {
    this.baseDir = desc.baseDir;
    this.redisUrl = desc.redisUrl;
    this.nodes = desc.nodes.map((n) => ({ ...n }));
    this.username = desc.username;
    this.password = desc.password;
    this.cookieHome = desc.cookieHome;
    this.pids = { redis: desc.pids.redis, rabbit: { ...desc.pids.rabbit } };
    this.rabbitmq = describeRuntime(runtime);
    this.ctx = { baseDir: desc.baseDir, cookieHome: desc.cookieHome, runtime };
    this.specs = desc.nodes.map((n) => ({
      name: n.name,
      shortName: n.name.split('@')[0] as string,
      amqpPort: n.amqpPort,
      managementPort: n.managementPort,
      distPort: n.distPort,
      prometheusPort: n.prometheusPort,
    }));
  }

  /** Stop on SIGINT/SIGTERM/SIGHUP, SIGKILL on exit, until stop() has run. */
  registerCleanup(): void {
    this.unregister();
    this.unregister = registerExitCleanup({ stop: () => this.stop(), killSync: () => this.killSync() });
  }

  releaseCleanup(): void {
    this.unregister();
    this.unregister = noop;
  }

  describe(): LocalStackDescription {
    return {
      baseDir: this.baseDir,
      redisUrl: this.redisUrl,
      nodes: this.nodes.map((n) => ({ ...n })),
      username: this.username,
      password: this.password,
      cookieHome: this.cookieHome,
      pids: { redis: this.pids.redis, rabbit: { ...this.pids.rabbit } },
      rabbitmq: describeRuntime(this.runtime),
    };
  }

  private spec(node: string): NodeSpec {
    if (this.stopping) throw new LocalStackError('warren_devstack_stopped', `the stack in ${this.baseDir} is stopped`);
    const spec = this.specs.find((s) => s.name === node || s.shortName === node);
    if (!spec) {
      const known = this.specs.map((s) => s.name).join(', ');
      throw new LocalStackError('warren_devstack_unknown_node', `unknown node ${node}; this stack has ${known}`);
    }
    return spec;
  }

  async rabbitmqctl(node: string, args: string[], opts?: { timeoutMs?: number }): Promise<RabbitmqctlResult> {
    return runRabbitmqctl(this.ctx, this.spec(node).name, args, opts?.timeoutMs);
  }

  rabbitmqctlAsNode(
    node: string,
    args: string[],
    opts?: { timeoutMs?: number; tool?: RabbitCli },
  ): Promise<RabbitmqctlResult> {
    return runOwnRabbitmqctl(this.ctx, this.spec(node), args, opts?.timeoutMs, opts?.tool);
  }

  private async ctl(spec: NodeSpec, args: string[], timeoutMs?: number): Promise<RabbitmqctlResult> {
    const result = await runRabbitmqctl(this.ctx, spec.name, args, timeoutMs);
    if (result.code !== 0) {
      // only the command name: add_user's arguments include the password
      const output = (result.stderr || result.stdout).trim().split('\n').slice(0, 5).join('\n');
      throw new LocalStackError(
        'warren_devstack_node_failed',
        `rabbitmqctl -n ${spec.name} ${args[0]} failed (exit ${result.code}):\n${output}\n${nodeLogTail(this.ctx, spec)}`,
      );
    }
    return result;
  }

  beamPid(spec: NodeSpec): number | undefined {
    const pid = readBeamPid(this.ctx, spec);
    return pid !== undefined && isAlive(pid) && belongsTo(pid, this.baseDir) ? pid : undefined;
  }

  /** Spawns the node and waits for await_startup; records its VM pid. */
  async bootNode(spec: NodeSpec): Promise<void> {
    const running = spawnNode(this.ctx, spec);
    this.wrappers.set(spec.name, running);
    await awaitNodeStartup(this.ctx, spec, running);
    const pid = this.beamPid(spec);
    if (pid !== undefined) this.pids.rabbit[spec.name] = pid;
  }

  async runningNodes(spec: NodeSpec): Promise<string[] | undefined> {
    const result = await runRabbitmqctl(this.ctx, spec.name, ['cluster_status', '--formatter', 'json'], 30_000);
    if (result.code !== 0) return undefined;
    try {
      const parsed = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as { running_nodes?: unknown };
      return Array.isArray(parsed.running_nodes) ? parsed.running_nodes.map(String) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forms the cluster around the first node: the others leave their own one-node cluster and join it. */
  async formCluster(): Promise<void> {
    const [seed, ...others] = this.specs;
    if (!seed) return;
    await Promise.all(others.map((spec) => this.ctl(spec, ['stop_app'])));
    // one join at a time: concurrent schema changes on the seed are what RabbitMQ's docs warn against
    for (const spec of others) await this.ctl(spec, ['join_cluster', seed.name]);
    // And one start at a time: on 4.0 a node starting checks its peers' Mnesia, and a peer starting at the same
    // moment answers node_not_running, which fails that boot (rabbit_mnesia:check_mnesia_consistency's case_clause).
    for (const spec of others) await this.ctl(spec, ['start_app'], 120_000);
    const all = this.specs.map((s) => s.name);
    let seen: string[] | undefined;
    const formed = await waitUntil(
      async () => {
        seen = await this.runningNodes(seed);
        return all.every((n) => seen?.includes(n));
      },
      60_000,
      500,
    );
    if (!formed) {
      throw new LocalStackError(
        'warren_devstack_start_failed',
        `cluster did not form: ${seed.name} sees running nodes [${(seen ?? []).join(', ')}], expected [${all.join(', ')}]`,
      );
    }
  }

  async createUser(): Promise<void> {
    const seed = this.specs[0] as NodeSpec;
    await this.ctl(seed, ['add_user', this.username, this.password]);
    await this.ctl(seed, ['set_user_tags', this.username, 'administrator']);
    await this.ctl(seed, ['set_permissions', '-p', '/', this.username, '.*', '.*', '.*']);
  }

  adoptRedis(redis: RedisHandle): void {
    this.redisChild = redis.child;
    this.pids.redis = redis.pid;
  }

  async killNode(node: string): Promise<void> {
    const spec = this.spec(node);
    const started = Date.now();
    await killNodeProcesses(this.ctx, spec, this.wrappers.get(spec.name)?.child.pid);
    this.wrappers.delete(spec.name);
    delete this.pids.rabbit[spec.name];
    const closed = await waitUntil(
      async () => !(await isPortOpen(spec.amqpPort)) && !(await isPortOpen(spec.distPort)),
      10_000,
      100,
    );
    if (!closed) {
      throw new LocalStackError('warren_devstack_node_failed', `ports of ${spec.name} still open after kill -9`);
    }
    // epmd drops the name when the VM's connection closes; startNode needs the name free again
    await waitUntil(async () => !(await epmdNames())?.includes(spec.shortName), 5_000, 100);
    this.log(`killed ${spec.name} in ${Date.now() - started} ms`);
  }

  async startNode(node: string): Promise<void> {
    const spec = this.spec(node);
    const started = Date.now();
    if (this.beamPid(spec) === undefined) {
      const free = await waitUntil(
        async () => !(await isPortOpen(spec.amqpPort)) && !(await isPortOpen(spec.distPort)),
        10_000,
        100,
      );
      if (!free) throw new LocalStackError('warren_devstack_node_failed', `ports of ${spec.name} are still in use`);
      this.log(`starting ${spec.name}`);
      await this.bootNode(spec);
    }
    await this.awaitRejoined(spec);
    this.log(`${spec.name} running and in the cluster after ${Date.now() - started} ms`);
  }

  async launchNode(node: string): Promise<void> {
    const spec = this.spec(node);
    if (this.beamPid(spec) !== undefined) return;
    const running = spawnNode(this.ctx, spec);
    this.wrappers.set(spec.name, running);
    const up = await waitUntil(async () => this.beamPid(spec) !== undefined, 30_000, 100);
    if (!up) {
      throw new LocalStackError(
        'warren_devstack_start_failed',
        `${spec.name} wrote no VM pid within 30 s\n${nodeLogTail(this.ctx, spec)}`,
      );
    }
    this.pids.rabbit[spec.name] = this.beamPid(spec) as number;
    this.log(`launched ${spec.name}'s VM`);
  }

  async destroyNode(node: string): Promise<void> {
    const spec = this.spec(node);
    await this.killNode(node);
    rmSync(join(nodeDir(this.ctx, spec), 'mnesia'), { recursive: true, force: true });
    // the empty data directory and the node's config, owned by the node's user as at creation
    prepareNode(this.ctx, spec);
    this.log(`destroyed ${spec.name}: its VM killed and its data removed`);
  }

  async loseNode(node: string): Promise<void> {
    const spec = this.spec(node);
    await this.killNode(node);
    rmSync(nodeDir(this.ctx, spec), { recursive: true, force: true });
    this.log(`lost ${spec.name}: its VM killed and its whole directory removed`);
  }

  async reformCluster(): Promise<void> {
    const started = Date.now();
    await Promise.all(this.specs.map((spec) => this.destroyNode(spec.name)));
    await Promise.all(this.specs.map((spec) => this.bootNode(spec)));
    await this.formCluster();
    await this.createUser();
    this.log(`cluster formed anew in ${Date.now() - started} ms`);
  }

  async joinFresh(node: string, seed: string): Promise<void> {
    const spec = this.spec(node);
    const seedSpec = this.spec(seed);
    const started = Date.now();
    if (this.beamPid(spec) === undefined) await this.bootNode(spec);
    // A cluster that still lists the node refuses it back with new data: forget the old member first.
    if ((await this.clusterMembers(seedSpec)).includes(spec.name)) {
      await this.ctl(spec, ['stop_app']);
      await this.ctl(seedSpec, ['forget_cluster_node', spec.name]);
    }
    await this.ctl(spec, ['stop_app']);
    await this.ctl(spec, ['reset']);
    await this.ctl(spec, ['join_cluster', seedSpec.name]);
    await this.ctl(spec, ['start_app'], 120_000);
    await this.awaitRejoined(spec);
    this.log(`${spec.name} joined ${seedSpec.name}'s cluster afresh after ${Date.now() - started} ms`);
  }

  /** The cluster's members (disc and RAM nodes, running or not) as `spec` knows them; [] when it does not answer. */
  private async clusterMembers(spec: NodeSpec): Promise<string[]> {
    const result = await runRabbitmqctl(this.ctx, spec.name, ['cluster_status', '--formatter', 'json'], 30_000);
    if (result.code !== 0) return [];
    try {
      const parsed = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as {
        disk_nodes?: unknown;
        ram_nodes?: unknown;
      };
      return [parsed.disk_nodes, parsed.ram_nodes].flatMap((list) => (Array.isArray(list) ? list.map(String) : []));
    } catch {
      return [];
    }
  }

  /**
   * Rejoined = the node sees itself and at least one other live node as running. Not "all nodes": the caller may
   * have stopped apps or partitioned nodes on purpose.
   */
  private async awaitRejoined(spec: NodeSpec): Promise<void> {
    let seen: string[] | undefined;
    const ok = await waitUntil(
      async () => {
        seen = await this.runningNodes(spec);
        if (!seen?.includes(spec.name)) return false;
        const others = this.specs.filter((s) => s !== spec && this.beamPid(s) !== undefined);
        return others.length === 0 || others.some((s) => seen?.includes(s.name));
      },
      60_000,
      500,
    );
    if (!ok) {
      throw new LocalStackError(
        'warren_devstack_node_failed',
        `${spec.name} did not rejoin the cluster; it sees running nodes [${(seen ?? []).join(', ')}]`,
      );
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const started = Date.now();
    this.log(`stopping the stack in ${this.baseDir}`);
    try {
      await Promise.all(this.specs.map((spec) => this.stopNode(spec)));
      if (this.pids.redis > 0) await stopRedis(this.pids.redis, this.baseDir);
      if (this.redisChild?.pid !== undefined && this.redisChild.pid !== this.pids.redis) {
        await stopRedis(this.redisChild.pid, this.baseDir);
      }
      const leftovers = await sweep(this.baseDir);
      if (leftovers.length > 0) this.log(`killed ${leftovers.length} leftover process(es) of the stack`);
      if (this.state.startedEpmd && (await killEpmdIfUnused(this.specs.map((s) => s.shortName)))) {
        this.log('stopped epmd (this stack had started it)');
      }
      this.runtime.detach(this.baseDir);
      await rm(this.baseDir, { recursive: true, force: true, maxRetries: 5 });
      this.log(`stack stopped in ${Date.now() - started} ms`);
    } finally {
      releaseNames(this.specs.map((spec) => spec.shortName));
      this.releaseCleanup();
    }
  }

  /** rabbitmqctl shutdown waits for the VM to exit; SIGKILL covers a node that hangs or does not answer. */
  private async stopNode(spec: NodeSpec): Promise<void> {
    const wrapper = this.wrappers.get(spec.name)?.child.pid;
    const beam = this.beamPid(spec);
    if (beam !== undefined) {
      const result = await runRabbitmqctl(this.ctx, spec.name, ['shutdown'], 30_000);
      if (result.code !== 0 || !(await waitForExit(beam, 5_000))) {
        this.log(`${spec.name} did not shut down cleanly; killing it`);
      }
    }
    await killNodeProcesses(this.ctx, spec, wrapper);
    this.wrappers.delete(spec.name);
    delete this.pids.rabbit[spec.name];
  }

  /** For the 'exit' event: nothing asynchronous runs there any more. */
  killSync(): void {
    for (const spec of this.specs) {
      killIfOurs(readBeamPid(this.ctx, spec), this.baseDir);
      killIfOurs(this.wrappers.get(spec.name)?.child.pid, this.baseDir);
    }
    for (const pid of Object.values(this.pids.rabbit)) killIfOurs(pid, this.baseDir);
    killIfOurs(this.pids.redis, this.baseDir);
    killIfOurs(this.redisChild?.pid, this.baseDir);
    sweepSync(this.baseDir);
    if (this.state.startedEpmd) killEpmdIfUnusedSync(this.specs.map((s) => s.shortName));
    this.runtime.detach(this.baseDir);
    try {
      rmSync(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort
    }
  }
}

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = opts.log ?? noop;
  const count = opts.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new LocalStackError('warren_devstack_start_failed', `nodes must be an integer from 1 to 16, got ${count}`);
  }
  const started = Date.now();
  const runtime = await ensureBrokerRuntime(opts.rabbitmq ?? seriesFromEnv(), { install: opts.install !== false, log });
  const epmdWasRunning = (await epmdNames()) !== undefined;
  const shortNames = await chooseShortNames(count);
  let ports: number[];
  let baseDir: string;
  try {
    ports = await allocatePorts(4 * count + 1);
    baseDir = prepareBaseDir(opts.baseDir);
  } catch (err) {
    releaseNames(shortNames);
    throw err;
  }
  const take = (): number => ports.shift() as number;

  const password = randomBytes(16).toString('hex');
  const nodes: LocalRabbitNode[] = shortNames.map((short) => {
    const amqpPort = take();
    const managementPort = take();
    const distPort = take();
    const prometheusPort = take();
    return {
      name: `${short}@${HOST}`,
      amqpPort,
      managementPort,
      distPort,
      prometheusPort,
      amqpUrl: `amqp://${USERNAME}:${password}@127.0.0.1:${amqpPort}`,
      managementUrl: `http://127.0.0.1:${managementPort}`,
      prometheusUrl: `http://127.0.0.1:${prometheusPort}`,
    };
  });
  const redisPort = take();
  const desc: LocalStackDescription = {
    baseDir,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    nodes,
    username: USERNAME,
    password,
    cookieHome: join(baseDir, 'erlang'),
    pids: { redis: 0, rabbit: {} },
    rabbitmq: describeRuntime(runtime),
  };
  const stack = new StackHandle(desc, runtime, { startedEpmd: !epmdWasRunning }, log);
  // from here on, Ctrl-C or a crash must not leave anything behind
  stack.registerCleanup();
  try {
    if (runtime.runAs) checkTraversable(baseDir, runtime.runAs);
    runtime.attach(baseDir);
    writeStackState(baseDir, { startedEpmd: !epmdWasRunning });
    writeCookie(desc.cookieHome, runtime.runAs);
    log(`starting redis-server and ${count} RabbitMQ ${runtime.series} node(s) in ${baseDir}`);
    const redis = startRedis({ redisServer: runtime.redisServer, baseDir, port: redisPort }).then((r) => {
      stack.adoptRedis(r);
      log(`redis-server ready on ${desc.redisUrl}`);
    });
    const rabbit = (async () => {
      for (const spec of stack.specs) prepareNode({ runtime, baseDir, cookieHome: desc.cookieHome }, spec);
      const boots = await Promise.allSettled(stack.specs.map((spec) => stack.bootNode(spec)));
      const failed = boots.find((b): b is PromiseRejectedResult => b.status === 'rejected');
      if (failed) throw failed.reason;
      log(`${count} node(s) booted after ${Date.now() - started} ms`);
      if (count > 1) {
        await stack.formCluster();
        log(`cluster of ${count} formed after ${Date.now() - started} ms`);
      }
      await stack.createUser();
    })();
    const results = await Promise.allSettled([redis, rabbit]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    log(`stack ready in ${Date.now() - started} ms (management ${nodes[0]?.managementUrl})`);
    if (opts.keepAfterExit) stack.releaseCleanup();
    return stack;
  } catch (err) {
    log('start failed; cleaning up');
    await stack.stop().catch(noop);
    // a failing rabbitmqctl or node is, from the caller's point of view, a failed start
    if (err instanceof LocalStackError && err.code !== 'warren_devstack_node_failed') throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new LocalStackError('warren_devstack_start_failed', `could not start the local stack: ${message}`, {
      cause: err,
    });
  }
}

function isDescription(value: unknown): value is LocalStackDescription {
  const d = value as Partial<LocalStackDescription> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.baseDir === 'string' &&
    typeof d.redisUrl === 'string' &&
    typeof d.username === 'string' &&
    typeof d.password === 'string' &&
    typeof d.cookieHome === 'string' &&
    Array.isArray(d.nodes) &&
    d.nodes.every((n) => typeof n?.name === 'string' && n.name.includes('@') && Number.isInteger(n.amqpPort)) &&
    typeof d.pids === 'object' &&
    d.pids !== null &&
    typeof d.pids.redis === 'number'
  );
}

/**
 * A handle on a stack started by another process (e.g. reused across test runs with WARREN_TEST_REUSE). It does not
 * register exit hooks, so the stack outlives this process unless stop() is called; `registerExitCleanup(handle)`
 * ties it to this process instead.
 */
export function attachLocalStack(desc: LocalStackDescription, opts: { log?: (line: string) => void } = {}): LocalStack {
  if (!isDescription(desc)) {
    throw new LocalStackError('warren_devstack_bad_description', 'not a LocalStackDescription');
  }
  const state = readStackState(desc.baseDir);
  if (!state) throw new LocalStackError('warren_devstack_bad_description', `${desc.baseDir} holds no running devstack`);
  const runtime = runtimeOf(desc.rabbitmq, isRoot() ? runAsOwnerOf(desc.cookieHome) : undefined);
  return new StackHandle(desc, runtime, state, opts.log ?? noop);
}
