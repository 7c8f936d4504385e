/**
 * Driving a run through the WorkflowEngine as the `fix` command and the buttons do, for integration tests: start it
 * (not a dry run) and read its id from the reply, then wait until it has ended.
 */

import type { StartRequest } from '../../src/remediation/remediation-control.js';
import type { RunStore } from '../../src/remediation/run-store.js';
import type { WorkflowEngine } from '../../src/remediation/workflow-engine.js';
import type { WorkflowRun } from '../../src/remediation/workflow-run.js';
import { waitUntil } from './wait-until.js';

/** Starts a real run and returns its id, as the reply names it. */
export async function startRun(engine: WorkflowEngine, request: Omit<StartRequest, 'dryRun'>): Promise<string> {
  const reply = await engine.start({ ...request, dryRun: false });
  const id = /run `(r-[0-9a-f]{8})`/.exec(reply.text ?? '')?.[1];
  if (!id) throw new Error(`no run id in: ${reply.text}`);
  return id;
}

/** The run once it is neither pending, approved nor running. */
export function finishedRun(store: RunStore, id: string, timeoutMs = 30_000): Promise<WorkflowRun> {
  return waitUntil(
    async () => {
      const run = await store.get(id);
      return run && !['pending', 'approved', 'running'].includes(run.status) ? run : undefined;
    },
    `run ${id} to finish`,
    timeoutMs,
  );
}
