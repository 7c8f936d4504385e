/**
 * Partition handling on the real 3-node cluster: the sweep reads each node's cluster_partition_handling through node
 * control (the stack's own rabbitmqctl, `environment --formatter json`), and the check finds `ignore` on three nodes,
 * which is how the devstack runs on purpose. One node's mode is then changed at runtime (application:set_env, which
 * rabbit_node_monitor reads at each partition; no restart) to make the modes differ, and restored afterwards.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { partitionHandlingText, renderClusterStatus } from '../../commands/status.js';
import { ClusterDirectory } from '../../src/cluster/cluster-directory.js';
import type { ClusterConfig } from '../../src/config/schema.js';
import { runChecks } from '../../src/health/check-run.js';
import { partitionHandlingCheck } from '../../src/health/checks/partition-handling.js';
import { SnapshotFetcher } from '../../src/health/snapshot-fetcher.js';
import { checkContext } from '../support/snapshot-fixtures.js';
import { nodeControlCommand } from '../support/stack-env.js';

const run = promisify(execFile);

describe('partition handling read from the real cluster', () => {
  const stack = inject('stack');
  const names = stack.nodes.map((n) => n.name);
  const last = names[names.length - 1] as string;
  const env = { HOME: stack.cookieHome };

  /** A fresh directory each time: its reader has nothing cached yet. */
  const directory = (withNodeControl = true) => {
    const config: ClusterConfig = {
      name: 'local',
      amqp: [],
      management: stack.nodes.map((n) => n.managementUrl),
      managementUser: stack.username,
      managementPassword: stack.password,
      vhost: '/',
      ...(withNodeControl ? { nodeControl: { command: nodeControlCommand(stack), env, timeout: 60_000 } } : {}),
    } as ClusterConfig;
    return new ClusterDirectory([config]).get('local');
  };
  const sweep = async (handle = directory()) => {
    const snapshot = await new SnapshotFetcher('local', handle.management, {
      partitionHandling: handle.partitionHandling,
    }).fetch();
    const [result] = runChecks([partitionHandlingCheck], snapshot, checkContext());
    return { snapshot, result };
  };
  const setMode = (node: string, mode: string) =>
    run(
      stack.rabbitmq.rabbitmqctl[0] as string,
      [
        ...stack.rabbitmq.rabbitmqctl.slice(1),
        '-n',
        node,
        'eval',
        `application:set_env(rabbit, cluster_partition_handling, ${mode}).`,
      ],
      { env: { ...process.env, ...env }, timeout: 60_000 },
    );

  afterAll(async () => {
    await setMode(last, 'ignore');
  });

  it('reads every node’s mode and finds ignore on the 3-node cluster', async () => {
    const { snapshot, result } = await sweep();
    expect(snapshot.errors.partitionHandling).toBeUndefined();
    expect(snapshot.partitionHandling?.map((n) => [n.node, n.handling])).toEqual(
      names.map((name) => [name, { mode: 'ignore' }]),
    );
    expect(result?.findings?.map((f) => f.subject)).toEqual(['ignore']);
    expect(result?.findings?.[0]?.summary).toBe('cluster_partition_handling is `ignore` on a cluster of 3 nodes');
  });

  it('shows the mode and the finding in /rabbit status', async () => {
    const handle = directory();
    const { snapshot } = await sweep(handle);
    const overview = await handle.management.overview();
    const status = {
      cluster: 'local',
      overview,
      nodes: snapshot.nodes ?? [],
      partitionHandling: { nodes: snapshot.partitionHandling ?? [] },
    };
    expect(partitionHandlingText(status)).toBe(
      'partition handling `ignore`\n*cluster_partition_handling is `ignore` on a cluster of 3 nodes*',
    );
    expect(renderClusterStatus(status).text).toContain('partition handling `ignore`');
  });

  it('finds modes that differ when one node runs autoheal', async () => {
    await setMode(last, 'autoheal');
    const { snapshot, result } = await sweep();
    expect(snapshot.partitionHandling?.find((n) => n.node === last)?.handling).toEqual({ mode: 'autoheal' });
    expect(result?.findings?.map((f) => f.subject)).toEqual(['modes-differ', 'ignore']);
    expect(result?.findings?.[0]?.details).toContain(`\`autoheal\` on \`${last}\``);
  });

  it('is not applicable without node control, and could not run when node control fails on every node', async () => {
    const none = await sweep(directory(false));
    expect(none.result?.notApplicable).toMatch(/^not applicable without node control/);
    const handle = directory();
    const broken = new ClusterDirectory([
      { ...handle.config, nodeControl: { command: ['/bin/false', '{node}', '{action}'], env: {}, timeout: 5_000 } },
    ]).get('local');
    const failed = await sweep(broken);
    expect(failed.result?.skipped).toMatch(
      new RegExp(`^partitionHandling: environment on ${names[0]} failed \\(exit 1\\)`),
    );
    expect(failed.snapshot.nodes).toHaveLength(3);
  });
});
