/**
 * `npm run demo -- --script smoke`: the zombie loop, unattended, through the console exactly as a person would do
 * it: inject the fault, wait for the alert, press its Fix… button, switch to a second user and press Approve, then
 * wait for the run to be verified and the alert to resolve. Everything warren prints is echoed, so a failed run
 * shows where it stopped.
 */
import type { PassThrough } from 'node:stream';

export interface SmokeScriptDeps {
  /** What the script types into the console. */
  input: PassThrough;
  /** What the console prints. */
  output: PassThrough;
  /** Where the console's output is shown as well. */
  echo(text: string): void;
  inject(fault: string): Promise<void>;
  operator: string;
  approver: string;
  log(line: string): void;
}

const STEP_TIMEOUT_MS = 180_000;

export async function runSmokeScript(deps: SmokeScriptDeps): Promise<boolean> {
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
      if (left <= 0) throw new Error(`smoke: timed out waiting for ${step} (${pattern})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1_000));
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const type = (line: string) => {
    deps.echo(`> ${line}\n`);
    deps.input.write(`${line}\n`);
  };

  try {
    await expectOutput('the console is up', /warren console/);
    type(`/as ${deps.operator}`);
    await deps.inject('zombie');
    const alert = await expectOutput(
      'the zombie alert fired, with its Fix… button',
      /WARNING: Zombie fanout and reply queues[\s\S]*?\[(\d+)\] Fix…/,
    );
    type(alert[1] as string);
    const request = await expectOutput(
      'an approval request for delete-zombie-queues',
      /delete-zombie-queues[\s\S]*?\[(\d+)\] Approve/,
    );
    type(`/as ${deps.approver}`);
    type(request[1] as string);
    await expectOutput('the run done and verified', /Done and verified/);
    await expectOutput('the alert resolved', /RESOLVED: Zombie fanout and reply queues/);
    deps.log('smoke: OK, the whole loop ran');
    return true;
  } catch (error) {
    deps.log(error instanceof Error ? error.message : String(error));
    return false;
  } finally {
    type('/quit');
  }
}
