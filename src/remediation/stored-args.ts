/**
 * The arguments a stored run executes with. They were validated when the run was requested, and are parsed again
 * with the workflow's schema only because the run may have been stored by another version of warren: it waits in
 * Redis for approval across an upgrade, or a replica of the other version took it during a rolling one. A workflow
 * whose arguments changed shape since must refuse such a run, not run its steps on fields that are not there.
 * A run from before arguments were stored typed has none at all, only their text, which is never parsed again.
 */
import { type AnyWorkflowDefinition, describeArgs } from './workflow-definition.js';
import type { WorkflowRun } from './workflow-run.js';

export type StoredArgs = { ok: true; args: unknown } | { ok: false; reason: string };

export function storedArgs(definition: AnyWorkflowDefinition, run: WorkflowRun): StoredArgs {
  const again = `start it again with \`fix ${run.alertId ?? `${run.workflow} ${run.argsText ?? ''}`.trim()}\` to re-plan against the current state`;
  if (run.args === undefined) {
    return {
      ok: false,
      reason:
        `run \`${run.id}\` was requested with an earlier version of warren, which stored its arguments as text ` +
        `(\`${run.argsText || 'none'}\`); this version runs only arguments validated when a run is requested. ` +
        `Nothing was run: ${again}`,
    };
  }
  const parsed = definition.args.safeParse(run.args);
  if (!parsed.success) {
    return {
      ok: false,
      reason:
        `the stored arguments of run \`${run.id}\` (${describeArgs(run.args)}) do not fit this version of ` +
        `${run.workflow}: ${parsed.error.issues.map((i) => i.message).join('; ')}. Nothing was run: ${again}`,
    };
  }
  return { ok: true, args: parsed.data };
}
