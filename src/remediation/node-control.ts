/**
 * Node control: the few actions only the CLI can do (restart the rabbit application on one node). Configured per
 * cluster as an argv template, e.g. `[rabbitmqctl, -n, "{node}", "{action}"]` on the broker's host, or
 * `[ssh, "{host}", sudo, rabbitmqctl, -n, "{node}", "{action}"]`, or
 * `[kubectl, exec, -n, rabbitmq, "{shortHost}", -c, rabbitmq, --, rabbitmqctl, "{action}"]`. The template is run with
 * execFile, never through a shell, and the only values put into it are a node name that the management API listed
 * and an action from the fixed list below: nothing typed in Slack reaches the command line.
 */
import { execFile } from 'node:child_process';
import { NodeControlError } from '../errors.js';
import { scrub } from '../secrets.js';

export const NODE_ACTIONS = ['stop_app', 'start_app', 'await_startup'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];

export interface NodeControlConfig {
  command: string[];
  env?: Record<string, string>;
  timeoutMs: number;
}

export interface NodeControl {
  /** Runs `action` on `node` (e.g. `rabbit@host-2`); resolves with the command's output, throws NodeControlError. */
  run(node: string, action: NodeAction): Promise<string>;
}

/** A node name as RabbitMQ lists it: `name@host`, nothing a command line could misread. */
const NODE_NAME = /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;

export function commandFor(template: readonly string[], node: string, action: NodeAction): string[] {
  if (!NODE_NAME.test(node)) throw new NodeControlError(`refusing to run node control for "${node}": not a node name`);
  if (!NODE_ACTIONS.includes(action)) throw new NodeControlError(`unknown node action "${action}"`);
  const host = node.slice(node.indexOf('@') + 1);
  // The first label of the host is the pod name under the RabbitMQ cluster operator (`kubectl exec {shortHost}`).
  const shortHost = host.split('.')[0] as string;
  return template.map((part) =>
    part
      .replaceAll('{node}', node)
      .replaceAll('{shortHost}', shortHost)
      .replaceAll('{host}', host)
      .replaceAll('{action}', action),
  );
}

export class CommandNodeControl implements NodeControl {
  constructor(private readonly config: NodeControlConfig) {}

  run(node: string, action: NodeAction): Promise<string> {
    const [file, ...args] = commandFor(this.config.command, node, action);
    return new Promise((resolve, reject) => {
      execFile(
        file as string,
        args,
        {
          timeout: this.config.timeoutMs,
          env: { ...process.env, ...this.config.env },
          maxBuffer: 1024 * 1024,
          killSignal: 'SIGKILL',
        },
        (error, stdout, stderr) => {
          const output = scrub(`${stdout}${stderr}`.trim()).split('\n').slice(-5).join('\n');
          if (error) {
            const why = error.killed ? `timed out after ${this.config.timeoutMs} ms` : `exit ${error.code ?? '?'}`;
            reject(new NodeControlError(`${action} on ${node} failed (${why}): ${output || error.message}`));
          } else resolve(output);
        },
      );
    });
  }
}
