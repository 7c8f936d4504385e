/**
 * Node control: the few actions only the CLI can do (restart the rabbit application on one node, read and set its
 * memory watermark, read its `cluster_partition_handling`). Configured per
 * cluster as an argv template, e.g. `[rabbitmqctl, -n, "{node}", "{action}"]` on the broker's host, or
 * `[ssh, "{host}", sudo, rabbitmqctl, -n, "{node}", "{action}"]`, or
 * `[kubectl, exec, -n, rabbitmq, "{shortHost}", -c, rabbitmq, --, rabbitmqctl, "{action}"]`. The template is run
 * without a shell (run-command.ts, which on a timeout also ends what the command started), and the only values put
 * into it are a node name that the management API listed, an action from the fixed list below and, for some
 * actions, arguments warren formats itself (a number, a fixed flag): nothing typed in Slack reaches the command
 * line. Arguments follow the action: an entry that is exactly `{action}` becomes the action and its arguments;
 * inside a longer entry (one remote command string) they are joined with spaces, which is safe because an
 * argument may hold only letters, digits, `.`, `_`, `-`, `@` (a node name), `/` and `:` (a vhost such as `/nova`, a
 * queue-manager name): no shell reads any of them specially.
 * Stream replicas are changed with another CLI, `rabbitmq-streams`, and whether a node is still booting is asked of
 * `rabbitmq-diagnostics`, each run through the same kind of template (`nodeControl.streamsCommand`,
 * `diagnosticsCommand`), by default the `command` with its `rabbitmqctl` replaced by that tool in the same folder.
 * The node's VM itself (the service) is started and ended through two more templates, `nodeControl.service.start`
 * and `.stop`, when configured: rabbitmqctl can start and stop the rabbit application only inside a running VM.
 */
import { z } from 'zod';
import type { ClusterConfig } from '../config/schema.js';
import { NodeControlError } from '../errors.js';
import { type PartitionHandling, partitionHandlingFrom } from '../management/partition-handling.js';
import { runCommand } from '../run-command.js';
import { scrub } from '../secrets.js';

export const NODE_ACTIONS = [
  'stop_app',
  'start_app',
  'await_startup',
  // on a stopped node: its next boot does not wait for its peers (the last one to stop is lost)
  'force_boot',
  'status',
  'set_vm_memory_high_watermark',
  // read only: the node's application environment, for its cluster_partition_handling and whether rabbit runs
  'environment',
  // run against a running member, naming the node to remove
  'forget_cluster_node',
  // rabbitmq-streams, through the streams template
  'add_replica',
  'stream_status',
  // rabbitmq-diagnostics, through the diagnostics template
  'is_booting',
  // rabbitmq-queues, through the queues template: run against a running member, naming the node whose members go
  'shrink',
] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];
/** The actions that take no arguments and whose output needs no reading: `run` runs them. */
export type PlainAction = Extract<NodeAction, 'stop_app' | 'start_app' | 'await_startup' | 'force_boot'>;

/** A node's memory watermark as `rabbitmqctl status` reports it. */
export interface NodeMemory {
  /** The configured fraction of RAM, or undefined when the node has an absolute limit. */
  relative?: number;
  /** The limit in bytes the node computed from it (`mem_limit` in the management API). */
  limitBytes: number;
  /** The RAM the node sees (limit / fraction); undefined with an absolute limit. */
  totalBytes?: number;
  /** The node's own memory alarm, as it knows it now (the management API's `mem_alarm` can lag behind). */
  alarm: boolean;
}

export interface NodeControlConfig {
  command: string[];
  /** The template for `rabbitmq-streams`; unset: derived from `command` (see toolTemplate). */
  streamsCommand?: string[];
  /** The template for `rabbitmq-queues`; unset: derived from `command` (see toolTemplate). */
  queuesCommand?: string[];
  /** The template for `rabbitmq-diagnostics`; unset: derived from `command` (see toolTemplate). */
  diagnosticsCommand?: string[];
  /** How to start and to end the node's VM; unset: startService and stopService refuse. */
  service?: { start: string[]; stop: string[] };
  env?: Record<string, string>;
  timeoutMs: number;
}

export interface NodeControl {
  /** Runs `action` on `node` (e.g. `rabbit@host-2`); resolves with the command's output, throws NodeControlError. */
  run(node: string, action: PlainAction): Promise<string>;
  /**
   * Whether the rabbit application runs on `node`, from its application environment (which lists running
   * applications only, and answers while the VM is up with the app stopped). Throws NodeControlError when the node
   * does not answer: its VM is down, or node control cannot reach it.
   */
  rabbitRunning(node: string): Promise<boolean>;
  /**
   * Whether the node's rabbit application is booting right now (`rabbitmq-diagnostics is_booting`): false when it has
   * booted, is stopped or has not started to boot. Throws NodeControlError when the node's VM does not answer.
   */
  booting(node: string): Promise<boolean>;
  /** Whether the node's VM can be started and ended (`nodeControl.service` is configured). */
  readonly canControlService: boolean;
  /**
   * Starts the node's VM with the service template; resolves with the output once the command returns (a systemd
   * unit of type notify returns once the node has booted). Throws NodeControlError without the template.
   */
  startService(node: string): Promise<string>;
  /** Ends the node's VM with the service template, even one hung in its boot. */
  stopService(node: string): Promise<string>;
  /**
   * `rabbitmqctl forget_cluster_node lost` run against `node` (a running member); with `offline`, run on `node`'s
   * host while its VM is stopped (`--offline`: the CLI works on the node's files). Resolves with the output.
   */
  forgetClusterNode(node: string, lost: string, options?: { offline?: boolean }): Promise<string>;
  /**
   * `rabbitmq-queues shrink LOST`, run against `node` (any running member): removes LOST's member from every quorum
   * queue that has one. What RabbitMQ before 4.0 offers instead of the HTTP `delete_member`; no queue name goes onto
   * the command line.
   */
  shrinkMembers(node: string, lost: string): Promise<string>;
  /** The node's memory watermark, read with `status --formatter json`. */
  memory(node: string): Promise<NodeMemory>;
  /** Sets the node's watermark to `fraction` of its RAM until its next restart; resolves with the output. */
  setMemoryWatermark(node: string, fraction: number): Promise<string>;
  /**
   * `rabbitmq-streams add_replica [-p vhost] stream replicaNode`, run against `node` (any running node); resolves
   * with the output. The stream and vhost names must be plain (letters, digits, `.`, `_`, `-`, `/`, `:`), else it refuses.
   */
  addStreamReplica(node: string, vhost: string, stream: string, replicaNode: string): Promise<string>;
  /**
   * The nodes that hold a member of the stream, as `rabbitmq-streams stream_status` run against `node` tells them:
   * the broker's own answer, where RabbitMQ 4.0.5's management API can list a removed replica or miss an added one.
   */
  streamMembers(node: string, vhost: string, stream: string): Promise<string[]>;
}

/** Reads a node's `cluster_partition_handling`: configuration, which only the CLI tells (see partition-handling.ts). */
export interface PartitionHandlingSource {
  partitionHandling(node: string): Promise<PartitionHandling>;
}

/**
 * The cluster's configured node control (`clusters[].nodeControl`), each command killed after `timeoutMs`: the
 * configured timeout for a workflow's steps, a shorter one for the sweep's reads.
 */
export function nodeControlFrom(
  config: NonNullable<ClusterConfig['nodeControl']>,
  timeoutMs = config.timeout,
): CommandNodeControl {
  return new CommandNodeControl({
    command: config.command,
    ...(config.streamsCommand ? { streamsCommand: config.streamsCommand } : {}),
    ...(config.diagnosticsCommand ? { diagnosticsCommand: config.diagnosticsCommand } : {}),
    ...(config.queuesCommand ? { queuesCommand: config.queuesCommand } : {}),
    ...(config.service ? { service: config.service } : {}),
    env: config.env,
    timeoutMs,
  });
}

/**
 * A command's output kept at most; past it the command is ended. `rabbitmq-queues shrink` prints a line for every
 * quorum queue it touches (tens of thousands on a large cluster): the limit must never end one half done.
 */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/** A node name as RabbitMQ lists it: `name@host`, nothing a command line could misread. */
const NODE_NAME = /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;
const ARGUMENT = /^[A-Za-z0-9_.@:/-]+$/;
const RABBITMQCTL = /(^|[/\s])rabbitmqctl(?=$|\s)/;

const TOOL_KEYS = {
  'rabbitmq-streams': 'streamsCommand',
  'rabbitmq-diagnostics': 'diagnosticsCommand',
  'rabbitmq-queues': 'queuesCommand',
} as const;
export type CliTool = keyof typeof TOOL_KEYS;

/**
 * The template for another CLI of RabbitMQ's: the configured one, else `command` with its `rabbitmqctl` (alone, as a
 * path's last part, or a word of a remote command string) replaced by the tool: they ship in the same folder.
 */
export function toolTemplate(
  config: Pick<NodeControlConfig, 'command' | 'streamsCommand' | 'diagnosticsCommand' | 'queuesCommand'>,
  tool: CliTool,
): string[] {
  const own = config[TOOL_KEYS[tool]];
  if (own) return own;
  if (!config.command.some((part) => RABBITMQCTL.test(part))) {
    throw new NodeControlError(
      `node control cannot run ${tool}: the command has no rabbitmqctl to stand in for it; set nodeControl.${TOOL_KEYS[tool]}`,
    );
  }
  return config.command.map((part) => part.replace(RABBITMQCTL, `$1${tool}`));
}
/** The highest watermark warren sets: above it the OS and its page cache are starved (RabbitMQ's docs warn too). */
export const MAX_WATERMARK = 0.7;

/** What the service templates do (they take no `{action}`: the template itself is the action). */
export type ServiceAction = 'start' | 'stop';

export function commandFor(
  template: readonly string[],
  node: string,
  action: NodeAction | ServiceAction,
  args: readonly string[] = [],
): string[] {
  if (!NODE_NAME.test(node)) throw new NodeControlError(`refusing to run node control for "${node}": not a node name`);
  if (!(NODE_ACTIONS as readonly string[]).includes(action) && action !== 'start' && action !== 'stop') {
    throw new NodeControlError(`unknown node action "${action}"`);
  }
  const bad = args.find((a) => !ARGUMENT.test(a));
  if (bad !== undefined) throw new NodeControlError(`refusing node control argument "${bad}"`);
  const host = node.slice(node.indexOf('@') + 1);
  // The first label of the host is the pod name under the RabbitMQ cluster operator (`kubectl exec {shortHost}`).
  const shortHost = host.split('.')[0] as string;
  return template.flatMap((part) => {
    if (part === '{action}') return [action, ...args];
    return [
      part
        .replaceAll('{node}', node)
        .replaceAll('{shortHost}', shortHost)
        .replaceAll('{host}', host)
        .replaceAll('{action}', [action, ...args].join(' ')),
    ];
  });
}

const statusSchema = z.object({
  vm_memory_high_watermark_setting: z.object({ relative: z.number().optional() }).loose(),
  vm_memory_high_watermark_limit: z.number(),
  // The node's local alarms, e.g. { node, resource: 'memory', type: 'resource_limit' }.
  alarms: z.array(z.object({ resource: z.string().optional(), node: z.string().optional() }).loose()).default([]),
});

/**
 * The JSON a CLI printed with `--formatter json` (an object or an array, after any warnings it printed first), as
 * `schema` reads it; undefined when there is none or it does not fit.
 */
function cliJson<S extends z.ZodType>(output: string, schema: S, opener: '{' | '['): z.output<S> | undefined {
  const start = output.indexOf(opener);
  const end = output.lastIndexOf(opener === '{' ? '}' : ']');
  if (start < 0 || end < start) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(output.slice(start, end + 1)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the watermark from `rabbitmqctl status --formatter json` output (warnings may come before the JSON). */
export function parseNodeMemory(node: string, output: string): NodeMemory {
  const parsed = cliJson(output, statusSchema, '{');
  if (!parsed) throw new NodeControlError(`could not read the memory watermark of ${node} from its status`);
  const relative = parsed.vm_memory_high_watermark_setting.relative;
  const limitBytes = parsed.vm_memory_high_watermark_limit;
  return {
    limitBytes,
    ...(relative !== undefined && relative > 0 ? { relative, totalBytes: Math.round(limitBytes / relative) } : {}),
    alarm: parsed.alarms.some((a) => a.resource === 'memory' && (a.node === undefined || a.node === node)),
  };
}

const environmentSchema = z.record(z.string(), z.unknown());

/**
 * The node's `cluster_partition_handling` from `rabbitmqctl environment --formatter json` output (warnings may come
 * before the JSON). The environment lists running applications only: no `rabbit` in it means the rabbit application
 * is stopped. Nothing of the output is put in an error: the environment may hold credentials.
 */
export function parsePartitionHandling(node: string, output: string): PartitionHandling {
  const rabbit = readEnvironment(node, output).rabbit;
  if (rabbit === undefined || rabbit === null || typeof rabbit !== 'object' || Array.isArray(rabbit)) {
    throw new NodeControlError(`${node} lists no rabbit application in its environment: is the rabbit app running?`);
  }
  // The rabbit application's own defaults put the key there; absent, the default is ignore.
  const value = (rabbit as Record<string, unknown>).cluster_partition_handling ?? 'ignore';
  const handling = partitionHandlingFrom(value);
  if (!handling) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 40)}"` : 'a value of another shape';
    throw new NodeControlError(`${node} has a cluster_partition_handling warren does not know: ${shown}`);
  }
  return handling;
}

function readEnvironment(node: string, output: string): Record<string, unknown> {
  const environment = cliJson(output, environmentSchema, '{');
  if (!environment) {
    throw new NodeControlError(`could not read the application environment of ${node}: its output is not JSON`);
  }
  return environment;
}

/** Whether `rabbitmqctl environment --formatter json` output lists the rabbit application (nothing else is read). */
export function parseRabbitRunning(node: string, output: string): boolean {
  const rabbit = readEnvironment(node, output).rabbit;
  return typeof rabbit === 'object' && rabbit !== null;
}

export class CommandNodeControl implements NodeControl, PartitionHandlingSource {
  constructor(private readonly config: NodeControlConfig) {}

  async run(node: string, action: PlainAction): Promise<string> {
    return tail(await this.exec(node, action));
  }

  async rabbitRunning(node: string): Promise<boolean> {
    return parseRabbitRunning(node, await this.exec(node, 'environment', ['--formatter', 'json']));
  }

  async forgetClusterNode(node: string, lost: string, options: { offline?: boolean } = {}): Promise<string> {
    if (!NODE_NAME.test(lost)) throw new NodeControlError(`refusing "${lost}": not a node name`);
    return tail(await this.exec(node, 'forget_cluster_node', [...(options.offline ? ['--offline'] : []), lost]));
  }

  async shrinkMembers(node: string, lost: string): Promise<string> {
    if (!NODE_NAME.test(lost)) throw new NodeControlError(`refusing "${lost}": not a node name`);
    return tail(await this.exec(node, 'shrink', [lost], toolTemplate(this.config, 'rabbitmq-queues')));
  }

  async addStreamReplica(node: string, vhost: string, stream: string, replicaNode: string): Promise<string> {
    if (!NODE_NAME.test(replicaNode)) throw new NodeControlError(`refusing "${replicaNode}": not a node name`);
    const args = [...(vhost === '/' ? [] : ['-p', vhost]), stream, replicaNode];
    return tail(await this.exec(node, 'add_replica', args, toolTemplate(this.config, 'rabbitmq-streams')));
  }

  async streamMembers(node: string, vhost: string, stream: string): Promise<string[]> {
    const args = [...(vhost === '/' ? [] : ['-p', vhost]), stream, '--formatter', 'json'];
    return parseStreamMembers(
      stream,
      await this.exec(node, 'stream_status', args, toolTemplate(this.config, 'rabbitmq-streams')),
    );
  }

  async booting(node: string): Promise<boolean> {
    const output = await this.exec(
      node,
      'is_booting',
      ['--formatter', 'json'],
      toolTemplate(this.config, 'rabbitmq-diagnostics'),
    );
    return parseBooting(node, output);
  }

  get canControlService(): boolean {
    return this.config.service !== undefined;
  }

  async startService(node: string): Promise<string> {
    return tail(await this.exec(node, 'start', [], this.serviceTemplate('start')));
  }

  async stopService(node: string): Promise<string> {
    return tail(await this.exec(node, 'stop', [], this.serviceTemplate('stop')));
  }

  private serviceTemplate(which: 'start' | 'stop'): string[] {
    const template = this.config.service?.[which];
    if (!template) {
      throw new NodeControlError(
        `node control cannot ${which} a node's VM: set nodeControl.service (how to start and stop the RabbitMQ service)`,
      );
    }
    return template;
  }

  async memory(node: string): Promise<NodeMemory> {
    return parseNodeMemory(node, await this.exec(node, 'status', ['--formatter', 'json']));
  }

  async partitionHandling(node: string): Promise<PartitionHandling> {
    return parsePartitionHandling(node, await this.exec(node, 'environment', ['--formatter', 'json']));
  }

  async setMemoryWatermark(node: string, fraction: number): Promise<string> {
    if (!(fraction >= 0.01 && fraction <= MAX_WATERMARK)) {
      throw new NodeControlError(
        `refusing a memory watermark of ${fraction}: it must be between 0.01 and ${MAX_WATERMARK}`,
      );
    }
    return tail(await this.exec(node, 'set_vm_memory_high_watermark', [formatFraction(fraction)]));
  }

  private async exec(
    node: string,
    action: NodeAction | ServiceAction,
    extra: readonly string[] = [],
    template: readonly string[] = this.config.command,
  ): Promise<string> {
    const [file, ...args] = commandFor(template, node, action, extra);
    const run = await runCommand(file as string, args, {
      timeoutMs: this.config.timeoutMs,
      env: { ...process.env, ...this.config.env },
      maxBytes: MAX_OUTPUT_BYTES,
    });
    const output = scrub(`${run.stdout}${run.stderr}`.trim());
    if (run.code === 0 && !run.timedOut && !run.tooMuchOutput) return output;
    const why = run.timedOut
      ? `timed out after ${this.config.timeoutMs} ms`
      : run.tooMuchOutput
        ? `its output passed ${MAX_OUTPUT_BYTES / 1024 / 1024} MiB`
        : run.spawnError
          ? 'could not start'
          : run.signal
            ? `ended by ${run.signal}`
            : `exit ${run.code}`;
    throw new NodeControlError(
      `${action} on ${node} failed (${why}): ${tail(output) || (run.spawnError ? scrub(run.spawnError.message) : 'no output')}`,
    );
  }
}

const bootingSchema = z.looseObject({ result: z.boolean() });

/** `rabbitmq-diagnostics is_booting --formatter json` output: `{"result": true|false, "message": …}`. */
export function parseBooting(node: string, output: string): boolean {
  const parsed = cliJson(output, bootingSchema, '{');
  if (!parsed) throw new NodeControlError(`is_booting on ${node}: unexpected output: ${scrub(tail(output))}`);
  return parsed.result;
}

const streamStatusSchema = z.array(z.looseObject({ node: z.string(), role: z.string() })).min(1);

/**
 * The member nodes from `rabbitmq-streams stream_status --formatter json` output (one entry per member, writer and
 * replicas; warnings may come before the JSON array). Throws NodeControlError on anything else.
 */
export function parseStreamMembers(stream: string, output: string): string[] {
  const members = cliJson(output, streamStatusSchema, '[');
  if (!members) throw new NodeControlError(`stream_status of ${stream}: unexpected output: ${scrub(tail(output))}`);
  return members.map((m) => m.node).sort();
}

/** What a step reports of a command's output: its last lines. */
function tail(output: string): string {
  return output.split('\n').slice(-5).join('\n');
}

/** 0.5 → "0.5", 0.45 → "0.45": at most 4 decimals, no exponent, nothing a command line could misread. */
export function formatFraction(fraction: number): string {
  return String(Number(fraction.toFixed(4)));
}
