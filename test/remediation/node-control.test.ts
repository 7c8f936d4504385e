import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../../src/devstack/processes.js';
import { NodeControlError } from '../../src/errors.js';
import {
  CommandNodeControl,
  commandFor,
  formatFraction,
  parseBooting,
  parseNodeMemory,
  toolTemplate,
} from '../../src/remediation/node-control.js';

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

  it('ends what a timed-out command started: a wrapper killed alone would leave its CLI running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-node-control-'));
    try {
      const pidFile = join(dir, 'pid');
      const wrapper = new CommandNodeControl({
        command: ['/bin/sh', '-c', `sleep 300 & echo $! > ${pidFile}; wait`, '{node}', '{action}'],
        timeoutMs: 500,
      });
      await expect(wrapper.run('rabbit@h', 'stop_app')).rejects.toThrow(
        /stop_app on rabbit@h failed \(timed out after 500 ms\)/,
      );
      expect(isAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("puts an action's arguments after it: as entries of their own, or inside a remote command string", () => {
    expect(
      commandFor(['rabbitmqctl', '-n', '{node}', '{action}'], 'rabbit@db-2', 'set_vm_memory_high_watermark', ['0.5']),
    ).toEqual(['rabbitmqctl', '-n', 'rabbit@db-2', 'set_vm_memory_high_watermark', '0.5']);
    expect(
      commandFor(['ssh', '{host}', 'sudo rabbitmqctl -n {node} {action}'], 'rabbit@db-2', 'status', [
        '--formatter',
        'json',
      ]),
    ).toEqual(['ssh', 'db-2', 'sudo rabbitmqctl -n rabbit@db-2 status --formatter json']);
    for (const bad of ['0.5; reboot', '$(id)', '', 'a b']) {
      expect(() => commandFor(['rabbitmqctl', '{action}'], 'rabbit@h', 'set_vm_memory_high_watermark', [bad])).toThrow(
        NodeControlError,
      );
    }
  });

  it('formats a watermark as a plain decimal, and refuses one outside 0.01–0.7 before running anything', async () => {
    expect(formatFraction(0.5)).toBe('0.5');
    expect(formatFraction(0.45)).toBe('0.45');
    expect(formatFraction(0.1 + 0.2)).toBe('0.3');
    const echo = new CommandNodeControl({ command: ['/bin/echo', '{action}'], timeoutMs: 5_000 });
    expect(await echo.setMemoryWatermark('rabbit@h', 0.45)).toBe('set_vm_memory_high_watermark 0.45');
    for (const bad of [0, 0.005, 0.71, 1, Number.NaN]) {
      await expect(echo.setMemoryWatermark('rabbit@h', bad)).rejects.toThrow(/between 0.01 and 0.7/);
    }
  });

  it('reads the watermark, its limit and the RAM from `status --formatter json`, warnings before it included', () => {
    const status = JSON.stringify({
      vm_memory_high_watermark_setting: { relative: 0.4 },
      vm_memory_high_watermark_limit: 10_110_381_260,
      memory: { total: { rss: 1 } },
      alarms: [],
    });
    expect(parseNodeMemory('rabbit@h', `Warning: something\n${status}\n`)).toEqual({
      relative: 0.4,
      limitBytes: 10_110_381_260,
      totalBytes: 25_275_953_150,
      alarm: false,
    });
    const absolute = JSON.stringify({
      vm_memory_high_watermark_setting: { absolute: 1_000_000 },
      vm_memory_high_watermark_limit: 1_000_000,
    });
    expect(parseNodeMemory('rabbit@h', absolute)).toEqual({ limitBytes: 1_000_000, alarm: false });
    // A node knows its own alarm before the management API shows it.
    const alarmed = JSON.stringify({
      vm_memory_high_watermark_setting: { relative: 0.0001 },
      vm_memory_high_watermark_limit: 2_527_595,
      alarms: [{ node: 'rabbit@h', resource: 'memory', type: 'resource_limit' }],
    });
    expect(parseNodeMemory('rabbit@h', alarmed).alarm).toBe(true);
    const disk = JSON.stringify({
      vm_memory_high_watermark_setting: { relative: 0.4 },
      vm_memory_high_watermark_limit: 1_000_000,
      alarms: [{ node: 'rabbit@h', resource: 'disk', type: 'resource_limit' }],
    });
    expect(parseNodeMemory('rabbit@h', disk).alarm).toBe(false);
    expect(() => parseNodeMemory('rabbit@h', 'Error: unable to perform an operation on node')).toThrow(
      /could not read the memory watermark of rabbit@h/,
    );
  });

  it('runs rabbitmq-streams and rabbitmq-diagnostics beside the configured rabbitmqctl, or their own templates', () => {
    const local = { command: ['/usr/sbin/rabbitmqctl', '-n', '{node}', '{action}'] };
    expect(toolTemplate(local, 'rabbitmq-streams')).toEqual(['/usr/sbin/rabbitmq-streams', '-n', '{node}', '{action}']);
    expect(toolTemplate(local, 'rabbitmq-diagnostics')).toEqual([
      '/usr/sbin/rabbitmq-diagnostics',
      '-n',
      '{node}',
      '{action}',
    ]);
    expect(
      toolTemplate({ command: ['ssh', '{host}', 'sudo rabbitmqctl -n {node} {action}'] }, 'rabbitmq-streams'),
    ).toEqual(['ssh', '{host}', 'sudo rabbitmq-streams -n {node} {action}']);
    // a word that merely contains the name is left alone
    const wrapper = { command: ['my-rabbitmqctl-wrapper', '{node}', '{action}'] };
    expect(() => toolTemplate(wrapper, 'rabbitmq-streams')).toThrow(/streamsCommand/);
    expect(() => toolTemplate(wrapper, 'rabbitmq-diagnostics')).toThrow(/diagnosticsCommand/);
    const own = ['kubectl', 'exec', '{shortHost}', '--', 'rabbitmq-streams', '{action}'];
    expect(toolTemplate({ command: ['x', '{action}'], streamsCommand: own }, 'rabbitmq-streams')).toBe(own);
    const diagnostics = ['kubectl', 'exec', '{shortHost}', '--', 'rabbitmq-diagnostics', '{action}'];
    expect(toolTemplate({ command: ['x', '{action}'], diagnosticsCommand: diagnostics }, 'rabbitmq-diagnostics')).toBe(
      diagnostics,
    );
  });

  it('reads is_booting as RabbitMQ 3.10 and 4.0 print it, and refuses anything else', () => {
    // as printed by rabbitmq-diagnostics 3.10.8 on a node waiting for its peers, and on a booted one
    expect(parseBooting('r@h', '{"message":"RabbitMQ on node r@h is booting","result":true}')).toBe(true);
    const booted =
      '{"message":"RabbitMQ on node r@h is fully booted (check with is_running), stopped or has not started booting yet","result":false}';
    expect(parseBooting('r@h', booted)).toBe(false);
    expect(() => parseBooting('r@h', 'Error: unable to perform an operation on node')).toThrow(NodeControlError);
  });

  it('starts and stops the VM with the service templates, and refuses without them', async () => {
    const control = new CommandNodeControl({
      command: ['/bin/echo', 'rabbitmqctl', '-n', '{node}', '{action}'],
      service: { start: ['/bin/echo', 'start', '{shortHost}'], stop: ['/bin/echo', 'kill', '{node}'] },
      timeoutMs: 5_000,
    });
    expect(control.canControlService).toBe(true);
    expect(await control.startService('rabbit@h1.example')).toBe('start h1');
    expect(await control.stopService('rabbit@h1')).toBe('kill rabbit@h1');
    await expect(control.startService('rabbit@h1; reboot')).rejects.toThrow(NodeControlError);
    const without = new CommandNodeControl({ command: ['/bin/echo', '{node}', '{action}'], timeoutMs: 5_000 });
    expect(without.canControlService).toBe(false);
    await expect(without.startService('rabbit@h1')).rejects.toThrow(/nodeControl\.service/);
  });

  it('adds a stream replica with the vhost only when it is not the default, and refuses odd names', async () => {
    const control = new CommandNodeControl({
      command: ['/bin/echo', 'rabbitmqctl', '-n', '{node}', '{action}'],
      streamsCommand: ['/bin/echo', 'streams', '-n', '{node}', '{action}'],
      timeoutMs: 5_000,
    });
    expect(await control.addStreamReplica('rabbit@h1', '/', 'compute_fanout', 'rabbit@h3')).toBe(
      'streams -n rabbit@h1 add_replica compute_fanout rabbit@h3',
    );
    expect(await control.addStreamReplica('rabbit@h1', '/nova', 'compute_fanout', 'rabbit@h3')).toBe(
      'streams -n rabbit@h1 add_replica -p /nova compute_fanout rabbit@h3',
    );
    await expect(control.addStreamReplica('rabbit@h1', '/', 'a;reboot', 'rabbit@h3')).rejects.toThrow(NodeControlError);
    await expect(control.addStreamReplica('rabbit@h1', '/', 's', 'rabbit@h3 && id')).rejects.toThrow(NodeControlError);
  });

  it('shrinks a node out of every quorum queue with rabbitmq-queues beside rabbitmqctl, or its own template', async () => {
    const derived = new CommandNodeControl({
      command: ['/bin/echo', '/usr/sbin/rabbitmqctl', '-n', '{node}', '{action}'],
      timeoutMs: 5_000,
    });
    expect(await derived.shrinkMembers('rabbit@h1', 'rabbit@gone')).toBe(
      '/usr/sbin/rabbitmq-queues -n rabbit@h1 shrink rabbit@gone',
    );
    const own = new CommandNodeControl({
      command: ['/bin/echo', 'wrapper', '{node}', '{action}'],
      queuesCommand: ['/bin/echo', 'queues', '-n', '{node}', '{action}'],
      timeoutMs: 5_000,
    });
    expect(await own.shrinkMembers('rabbit@h1', 'rabbit@gone')).toBe('queues -n rabbit@h1 shrink rabbit@gone');
    await expect(derived.shrinkMembers('rabbit@h1', 'rabbit@gone; id')).rejects.toThrow(NodeControlError);
  });

  it('forgets a node by running forget_cluster_node against a running member, refusing an odd name', async () => {
    const control = new CommandNodeControl({
      command: ['/bin/echo', 'rabbitmqctl', '-n', '{node}', '{action}'],
      timeoutMs: 5_000,
    });
    expect(await control.forgetClusterNode('rabbit@h1', 'rabbit@h3')).toBe(
      'rabbitmqctl -n rabbit@h1 forget_cluster_node rabbit@h3',
    );
    await expect(control.forgetClusterNode('rabbit@h1', 'rabbit@h3 --offline')).rejects.toThrow(NodeControlError);
    expect(await control.forgetClusterNode('rabbit@h2', 'rabbit@h3', { offline: true })).toBe(
      'rabbitmqctl -n rabbit@h2 forget_cluster_node --offline rabbit@h3',
    );
  });

  it('tells a running rabbit app from a stopped one by the environment, and a node that does not answer by an error', async () => {
    const printing = (json: string) => new CommandNodeControl({ command: ['/bin/echo', json], timeoutMs: 5_000 });
    expect(await printing('{"kernel":{},"rabbit":{"heartbeat":60}}').rabbitRunning('rabbit@h1')).toBe(true);
    expect(await printing('{"kernel":{},"mnesia":{}}').rabbitRunning('rabbit@h1')).toBe(false);
    const down = new CommandNodeControl({ command: ['/bin/false', '{node}', '{action}'], timeoutMs: 5_000 });
    await expect(down.rabbitRunning('rabbit@h1')).rejects.toThrow(/environment on rabbit@h1 failed \(exit 1\)/);
  });
});
