import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeControlError } from '../../src/errors.js';
import {
  formatPartitionHandling,
  modeGroups,
  partitionHandlingAction,
  partitionHandlingFrom,
} from '../../src/management/partition-handling.js';
import { parsePartitionHandling } from '../../src/remediation/node-control.js';

/** `rabbitmqctl environment --formatter json` of a real 3.10 node, trimmed to a few applications and keys. */
const captured = readFileSync(new URL('../fixtures/rabbitmq-3.10/environment-rabbit1.txt', import.meta.url), 'utf8');
const N = 'rabbit1@localhost';

function withMode(value: unknown): string {
  const environment = JSON.parse(captured) as { rabbit: Record<string, unknown> };
  environment.rabbit.cluster_partition_handling = value;
  return JSON.stringify(environment);
}

describe('reading cluster_partition_handling from a node environment', () => {
  it('reads ignore from a real 3.10 node, with a CLI warning before the JSON', () => {
    expect(parsePartitionHandling(N, captured)).toEqual({ mode: 'ignore' });
    expect(parsePartitionHandling(N, `Warning: the CLI is old\n${captured}`)).toEqual({ mode: 'ignore' });
  });

  it('reads each mode, the pause_if_all_down tuple as the JSON formatter renders it (a list of three)', () => {
    expect(parsePartitionHandling(N, withMode('pause_minority'))).toEqual({ mode: 'pause_minority' });
    expect(parsePartitionHandling(N, withMode('autoheal'))).toEqual({ mode: 'autoheal' });
    const tuple = parsePartitionHandling(N, withMode(['pause_if_all_down', ['rabbit@b', 'rabbit@a'], 'autoheal']));
    expect(tuple).toEqual({ mode: 'pause_if_all_down', nodes: ['rabbit@a', 'rabbit@b'], recover: 'autoheal' });
    expect(formatPartitionHandling(tuple)).toBe('pause_if_all_down [rabbit@a, rabbit@b], then autoheal');
  });

  it('takes the default (ignore) when the rabbit application lists no such key', () => {
    expect(parsePartitionHandling(N, JSON.stringify({ rabbit: { heartbeat: 60 } }))).toEqual({ mode: 'ignore' });
  });

  it('refuses what it cannot read, with a clear error that shows none of the environment', () => {
    const cases: [string, RegExp][] = [
      ['Error: unable to perform an operation on node', /not JSON/],
      [JSON.stringify({ kernel: {}, secret_app: { password: 'hunter2' } }), /lists no rabbit application/],
      [withMode('pause_everything'), /does not know: "pause_everything"/],
      [withMode(['pause_if_all_down', ['rabbit@a'], 'restart']), /does not know: a value of another shape/],
      [withMode(['pause_if_all_down', 'rabbit@a', 'ignore']), /does not know/],
    ];
    for (const [output, message] of cases) {
      let error: unknown;
      try {
        parsePartitionHandling(N, output);
      } catch (e) {
        error = e;
      }
      expect(error, output).toBeInstanceOf(NodeControlError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('knows no value that is not a mode', () => {
    for (const value of [undefined, null, 3, 'Ignore', ['autoheal'], ['pause_if_all_down', [1], 'ignore']]) {
      expect(partitionHandlingFrom(value), JSON.stringify(value)).toBeUndefined();
    }
  });
});

describe('what a mode does by itself', () => {
  it('says autoheal restarts the losing side and a human should wait, ignore does nothing', () => {
    expect(partitionHandlingAction({ mode: 'autoheal' })).toMatch(/restarts the losing side by itself.*wait/);
    expect(partitionHandlingAction({ mode: 'pause_minority' })).toMatch(/pauses the nodes on a side/);
    expect(partitionHandlingAction({ mode: 'ignore' })).toMatch(/does nothing by itself/);
    expect(partitionHandlingAction({ mode: 'pause_if_all_down', nodes: ['rabbit@a'], recover: 'ignore' })).toMatch(
      /none of rabbit@a.*does nothing/,
    );
  });

  it('groups the nodes by mode, most nodes first, leaving unread nodes out', () => {
    const groups = modeGroups([
      { node: 'c', handling: { mode: 'autoheal' } },
      { node: 'b', handling: { mode: 'ignore' } },
      { node: 'a', handling: { mode: 'ignore' } },
      { node: 'd' },
    ]);
    expect(groups).toEqual([
      { handling: { mode: 'ignore' }, nodes: ['a', 'b'] },
      { handling: { mode: 'autoheal' }, nodes: ['c'] },
    ]);
  });
});
