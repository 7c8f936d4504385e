/**
 * Every remediation workflow, one definition per file in this folder. The workflow engine and the first
 * workflows arrive with the remediation issue; until then the list is empty and `/rabbit fix` does not exist.
 */
export const allWorkflows: readonly never[] = [];
