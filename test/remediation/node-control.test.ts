import { describe, expect, it } from 'vitest';
import { NodeControlError } from '../../src/errors.js';
import { CommandNodeControl, commandFor } from '../../src/remediation/node-control.js';

describe('node control', () => {
  it('fills the template with the node, its host and the action, one argv entry each', () => {
    expect(
      commandFor(['ssh', '{host}', 'sudo', 'rabbitmqctl', '-n', '{node}', '{action}'], 'rabbit@db-2', 'stop_app'),
    ).toEqual(['ssh', 'db-2', 'sudo', 'rabbitmqctl', '-n', 'rabbit@db-2', 'stop_app']);
    // Under the RabbitMQ cluster operator the node's host is the pod's FQDN; its first label is the pod name.
    expect(
      commandFor(
        ['kubectl', 'exec', '{shortHost}', '--', 'rabbitmqctl', '{action}'],
        'rabbit@rabbit-server-1.rabbit-nodes.rabbitmq',
        'start_app',
      ),
    ).toEqual(['kubectl', 'exec', 'rabbit-server-1', '--', 'rabbitmqctl', 'start_app']);
  });

  it('refuses anything that is not a plain node name, so nothing can smuggle shell syntax in', () => {
    for (const node of ['rabbit@h; rm -rf /', '$(id)@h', 'rabbit', 'a@b c']) {
      expect(() => commandFor(['rabbitmqctl', '-n', '{node}', '{action}'], node, 'start_app')).toThrow(
        NodeControlError,
      );
    }
  });

  it('runs the command without a shell and reports a failure with its exit code and output', async () => {
    const ok = new CommandNodeControl({ command: ['/bin/echo', '{action}', '{node}'], timeoutMs: 5_000 });
    expect(await ok.run('rabbit@h', 'start_app')).toBe('start_app rabbit@h');
    const failing = new CommandNodeControl({
      command: ['/bin/sh', '-c', 'echo no such node >&2; exit 3', '{node}', '{action}'],
      timeoutMs: 5_000,
    });
    await expect(failing.run('rabbit@h', 'stop_app')).rejects.toThrow(
      /stop_app on rabbit@h failed \(exit 3\): no such node/,
    );
  });
});
