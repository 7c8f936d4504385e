/**
 * What every benchmark prints at its start and again before its BENCH line: the commit it ran (marked when the tree
 * had changes) and the machine's load average, so a figure can be traced to its code and to how busy the machine was.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** The commit of the tree at `root` (default: this checkout), `+changes` when it has uncommitted ones. */
export function commitOf(root = process.cwd()): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
    });
    return dirty.trim() ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** "commit 1a2b3c4, 2 cores, load average 0.52 0.61 0.70", prefixed by `when` (start, end). */
export function runInfo(when: 'start' | 'end', root?: string): string {
  return `${when}: commit ${commitOf(root)}, ${cpus().length} cores, load average ${loadAverage()}`;
}
