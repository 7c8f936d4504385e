import { readFileSync } from 'node:fs';

/** Whether a process still runs: a zombie (exited, not yet reaped by its new parent) counts as gone. */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}
