import type { BrokerRuntimeDescription, RabbitmqSeries } from './broker-runtime.js';

/**
 * Owns the public shapes of the devstack. Types only: no runtime code, so every other devstack file can import it
 * without cycles.
 */

export interface LocalStackOptions {
  /** Number of RabbitMQ nodes in the cluster; default 3. */
  nodes?: number;
  /** Directory holding every file of the stack; default: a fresh `fs.mkdtemp(os.tmpdir()/warren-stack-)`. */
  baseDir?: string;
  /** Progress lines; default: nothing. Never receives the password or the cookie. */
  log?: (line: string) => void;
  /** Default true: install missing packages with apt-get when running as root on Debian. */
  install?: boolean;
  /**
   * Default false: the stack is stopped on SIGINT/SIGTERM/SIGHUP and killed on exit of this process unless stop()
   * ran first. True: those hooks guard the start only, and the ready stack outlives this process (to be reused with
   * attachLocalStack, e.g. WARREN_TEST_REUSE, and stopped with attachLocalStack(desc).stop()).
   */
  keepAfterExit?: boolean;
  /** Which RabbitMQ: '3.10' (the machine's packages) or '4.0' (a Debian trixie root); default WARREN_TEST_RABBITMQ. */
  rabbitmq?: RabbitmqSeries;
}

export interface LocalRabbitNode {
  /** Full Erlang node name, e.g. 'rabbit1@localhost'. */
  name: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  /** The Prometheus plugin's listener (`/metrics`, `/metrics/detailed`). */
  prometheusPort: number;
  /** amqp://warren:<password>@127.0.0.1:<port> */
  amqpUrl: string;
  /** http://127.0.0.1:<port>, without credentials. */
  managementUrl: string;
  /** http://127.0.0.1:<port> of the Prometheus plugin. */
  prometheusUrl: string;
}

/** JSON-serialisable, so a running stack can be reused across processes (see attachLocalStack). */
export interface LocalStackDescription {
  baseDir: string;
  redisUrl: string;
  nodes: LocalRabbitNode[];
  /** The admin user created on the cluster (tag administrator, all permissions on '/'). */
  username: string;
  password: string;
  /** Directory holding .erlang.cookie, used as HOME for the nodes and the CLI. */
  cookieHome: string;
  /** Erlang VM (beam.smp) pid per node name; a node killed with killNode has no entry until startNode. */
  pids: { redis: number; rabbit: Record<string, number> };
  /**
   * Which RabbitMQ runs and how to reach its tools: `rabbitmqctl` is the argv prefix of the node's own CLI (a node
   * control command template starts with it), `python3` runs that series' oslo.messaging.
   */
  rabbitmq: BrokerRuntimeDescription;
}

/** RabbitMQ's CLIs, which ship in one folder: what the stack runs as a node's user (rabbitmqctlAsNode). */
export const RABBIT_CLIS = ['rabbitmqctl', 'rabbitmq-diagnostics', 'rabbitmq-streams', 'rabbitmq-queues'] as const;
export type RabbitCli = (typeof RABBIT_CLIS)[number];

export interface RabbitmqctlResult {
  stdout: string;
  stderr: string;
  /** Exit code of rabbitmqctl; 124 when it was killed after timeoutMs. */
  code: number;
}

export interface LocalStack extends LocalStackDescription {
  /** Runs `rabbitmqctl -n <node> ...args` without a shell; never throws on a non-zero exit code. */
  rabbitmqctl(node: string, args: string[], opts?: { timeoutMs?: number }): Promise<RabbitmqctlResult>;
  /** kill -9 of the node's Erlang VM, then waits until its ports are closed. */
  killNode(node: string): Promise<void>;
  /** Starts the node again with the same data dirs and waits until it is running and back in the cluster. */
  startNode(node: string): Promise<void>;
  /**
   * Starts a stopped node's VM as a service manager would and returns once the VM is up (its pid written), without
   * waiting for its boot: the boot may wait for peers that are down. Nothing when the VM already runs.
   */
  launchNode(node: string): Promise<void>;
  /**
   * Runs `rabbitmqctl -n <node> ...args` (or another of RabbitMQ's CLIs, `tool`) as the node's user with the node's own environment, as on its host: for
   * commands that work on a stopped node's files (`forget_cluster_node --offline`). Never throws on a non-zero exit.
   */
  rabbitmqctlAsNode(
    node: string,
    args: string[],
    opts?: { timeoutMs?: number; tool?: RabbitCli },
  ): Promise<RabbitmqctlResult>;
  /** A node lost for good, as a dead disk leaves it: kill -9 of its VM, then its data removed. */
  destroyNode(node: string): Promise<void>;
  /**
   * A node whose host is gone: kill -9 of its VM, then its whole directory removed (config, data, logs), so that
   * starting it fails at once, as a service start on a dead host does. destroyNode makes it startable again, empty.
   */
  loseNode(node: string): Promise<void>;
  /**
   * Brings a node back as a new member with no data (after destroyNode): boots it alone, resets it and joins it to
   * `seed`'s cluster, forgetting its old membership first if the cluster still lists it.
   */
  joinFresh(node: string, seed: string): Promise<void>;
  /**
   * Every node's VM killed and its data removed, then the cluster formed anew and the stack's user created, as at
   * start (Redis untouched). For a test that leaves the cluster's metadata worse than any restart repairs.
   */
  reformCluster(): Promise<void>;
  /** Idempotent: stops the nodes, redis, epmd if this stack started it, and removes baseDir. */
  stop(): Promise<void>;
  /**
   * Synchronous last resort for a process 'exit' handler: SIGKILL of every process of the stack and removal of
   * baseDir. Lets `registerExitCleanup(stack)` guard an attached stack too.
   */
  killSync(): void;
  describe(): LocalStackDescription;
}
