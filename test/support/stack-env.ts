/** Environment that points warren at the test run's local stack, as an operator would with RABBITMQ_URL. */
import { resolve } from 'node:path';
import type { LocalRabbitNode, LocalStackDescription } from '../../src/devstack/index.js';

export function stackEnv(stack: LocalStackDescription): Record<string, string> {
  return {
    RABBITMQ_URL: stack.nodes.map((n) => n.amqpUrl).join(','),
    RABBITMQ_MANAGEMENT_URL: stack.nodes.map((n) => n.managementUrl).join(','),
    // The stack has one administrator user: it serves for remediation too (a real cluster gives it a user of its own).
    RABBITMQ_REMEDIATION_USER: stack.username,
    RABBITMQ_REMEDIATION_PASSWORD: stack.password,
    REDIS_URL: stack.redisUrl,
    PORT: '0',
  };
}

/** clusters[].nodeControl.command for the stack: its own series' rabbitmqctl (a chroot's on RabbitMQ 4.0). */
export function nodeControlCommand(stack: LocalStackDescription): string[] {
  return [...stack.rabbitmq.rabbitmqctl, '-n', '{node}', '{action}'];
}

/**
 * `nodeControl.service.start`/`.stop` for the stack, and with `ctl` a `nodeControl.command` that runs rabbitmqctl as
 * on the node's host: the devstack's stand-in (devstack-service.ts), run with tsx.
 */
export function serviceCommand(action: 'start' | 'stop' | 'ctl'): string[] {
  const script = resolve(import.meta.dirname, 'devstack-service.ts');
  // `rabbitmqctl` as a word of its own, so that node control derives the rabbitmq-diagnostics and -streams commands.
  const node = action === 'ctl' ? ['rabbitmqctl', '{node}', '{action}'] : ['{node}'];
  return [process.execPath, '--import', 'tsx', script, action, ...node];
}

/**
 * A `clusters:` entry for the stack in YAML, with node control, for tests whose warren needs the cluster in its
 * config file: the management and AMQP URLs of `nodes` only (all of them unless given).
 */
export function stackClusterYaml(
  stack: LocalStackDescription,
  options: {
    name?: string;
    nodes?: readonly LocalRabbitNode[];
    nodeControlTimeout?: string;
    /** The file holding the stack's description: node control then starts and kills VMs (devstack-service.ts). */
    serviceDescription?: string;
    /** With serviceDescription: rabbitmqctl runs as on the node's host (its user and environment), for --offline. */
    onHost?: boolean;
  } = {},
): string {
  const nodes = options.nodes ?? stack.nodes;
  const service = options.serviceDescription
    ? `
      service:
        start: ${JSON.stringify(serviceCommand('start'))}
        stop: ${JSON.stringify(serviceCommand('stop'))}`
    : '';
  const serviceEnv = options.serviceDescription
    ? `, WARREN_DEVSTACK_DESCRIPTION: ${JSON.stringify(options.serviceDescription)}`
    : '';
  return `
clusters:
  - name: ${options.name ?? 'local'}
    amqp: [${nodes.map((n) => JSON.stringify(n.amqpUrl)).join(', ')}]
    management: [${nodes.map((n) => JSON.stringify(n.managementUrl)).join(', ')}]
    managementUser: ${JSON.stringify(stack.username)}
    managementPassword: ${JSON.stringify(stack.password)}
    remediationUser: ${JSON.stringify(stack.username)}
    remediationPassword: ${JSON.stringify(stack.password)}
    nodeControl:
      command: ${JSON.stringify(options.serviceDescription && options.onHost ? serviceCommand('ctl') : nodeControlCommand(stack))}${service}
      env: { HOME: ${JSON.stringify(stack.cookieHome)}${serviceEnv} }
      timeout: ${options.nodeControlTimeout ?? '2m'}
`;
}
