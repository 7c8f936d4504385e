/**
 * `npm run demo -- --script NAME[,NAME…]`: a fault's whole loop, unattended, through the console exactly as a person
 * would do it: inject the fault, wait for the alert, press its Fix… button, switch to other users and press Approve
 * as many times as the workflow's risk needs, then wait for the run to be verified and the alert to resolve.
 * `smoke` is the zombie loop. Everything warren prints is echoed, so a failed run shows where it stopped.
 */

import type { PassThrough } from 'node:stream';
import { DemoError } from '../errors.js';

/** One fault's loop: the alert it raises and the workflow its Fix… runs. */
export interface FixLoop {
  fault: string;
  /** The alert's title as the console prints it after its severity. */
  alert: string;
  workflow: string;
  /** Approvals the workflow's risk needs, each from a different approver. */
  approvals: 1 | 2;
}

export const FIX_LOOPS: Readonly<Record<string, FixLoop>> = {
  zombie: {
    fault: 'zombie',
    alert: 'Zombie fanout and reply queues',
    workflow: 'delete-zombie-queues',
    approvals: 1,
  },
  heartbeat: {
    fault: 'heartbeat',
    alert: 'Heartbeats disabled',
    workflow: 'close-heartbeatless-connections',
    approvals: 1,
  },
  'memory-alarm': { fault: 'memory-alarm', alert: 'Resource alarms', workflow: 'raise-memory-watermark', approvals: 2 },
};

/** `smoke` or loop names, comma-separated, into the loops to run; undefined for an unknown name. */
export function fixLoopsNamed(names: string): FixLoop[] | undefined {
  const loops = names.split(',').map((name) => FIX_LOOPS[name === 'smoke' ? 'zombie' : name]);
  return loops.every((loop): loop is FixLoop => loop !== undefined) ? loops : undefined;
}

export interface FixLoopScriptDeps {
  /** What the script types into the console. */
  input: PassThrough;
  /** What the console prints. */
  output: PassThrough;
  /** Where the console's output is shown as well. */
  echo(text: string): void;
  inject(fault: string): Promise<void>;
  operator: string;
  approvers: readonly string[];
  log(line: string): void;
}

const STEP_TIMEOUT_MS = 180_000;

export async function runFixLoops(deps: FixLoopScriptDeps, loops: readonly FixLoop[]): Promise<boolean> {
  let seen = '';
  let waiter: (() => void) | undefined;
  deps.output.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    seen += text;
    deps.echo(text);
    waiter?.();
  });
  let from = 0;

  /** Waits until the console prints something matching `pattern` after the last match; returns the match. */
  const expectOutput = async (step: string, pattern: RegExp): Promise<RegExpExecArray> => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const match = pattern.exec(seen.slice(from));
      if (match) {
        from += match.index + match[0].length;
        deps.log(`smoke: ${step}`);
        return match;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new DemoError(`smoke: timed out waiting for ${step} (${pattern})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  /** Waits for each of `steps` after the last match, in whatever order they come; then goes on after the last. */
  const expectEach = async (steps: readonly [string, RegExp][]) => {
    const start = from;
    let end = from;
    for (const [step, pattern] of steps) {
      from = start;
      await expectOutput(step, pattern);
      end = Math.max(end, from);
    }
    from = end;
  };
  const type = (line: string) => {
    deps.echo(`> ${line}\n`);
    deps.input.write(`${line}\n`);
  };

  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  try {
    await expectOutput('the console is up', /warren console/);
    for (const loop of loops) {
      const title = literal(loop.alert);
      type(`/as ${deps.operator}`);
      await deps.inject(loop.fault);
      const alert = await expectOutput(
        `the ${loop.fault} alert fired, with its Fix… button`,
        new RegExp(`[A-Z]+: ${title}[\\s\\S]*?\\[(\\d+)\\] Fix…`),
      );
      type(alert[1] as string);
      for (const [index, approver] of deps.approvers.slice(0, loop.approvals).entries()) {
        const request = await expectOutput(
          index === 0 ? `an approval request for ${loop.workflow}` : `the request waiting for approval ${index + 1}`,
          new RegExp(`${literal(loop.workflow)}[\\s\\S]*?\\[(\\d+)\\] Approve`),
        );
        type(`/as ${approver}`);
        type(request[1] as string);
      }
      // Either may come first: the next sweep can resolve the alert while the run is still verifying.
      await expectEach([
        [`the ${loop.fault} run done and verified`, /Done and verified/],
        [`the ${loop.fault} alert resolved`, new RegExp(`RESOLVED: ${title}`)],
      ]);
    }
    deps.log(`smoke: OK, the whole loop ran (${loops.map((l) => l.fault).join(', ')})`);
    return true;
  } catch (error) {
    deps.log(error instanceof Error ? error.message : String(error));
    return false;
  } finally {
    type('/quit');
  }
}
