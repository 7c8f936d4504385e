/**
 * A workflow's arguments as the `fix` command gives them to the engine: the words typed after its name, split as the
 * command router splits them, named and validated once by `parseWorkflowArgs`. Throws with the problems otherwise.
 */
import { parseArgv, tokenize } from '../../src/chatops/argv.js';
import { parseWorkflowArgs, type WorkflowDefinition } from '../../src/remediation/workflow-definition.js';

export function workflowArgs<A>(workflow: WorkflowDefinition<A>, text: string): A {
  const parsed = parseWorkflowArgs(workflow, parseArgv(tokenize(text), workflow.booleanFlags));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}
