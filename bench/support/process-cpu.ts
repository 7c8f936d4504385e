/** CPU time of local processes, for benches that charge the broker's (or warren's) work to what they measure. */
import { readFileSync } from 'node:fs';

/** CPU seconds used so far by the given processes, from /proc (the devstack runs on Linux, 100 ticks/s). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // a process that is gone uses no CPU
    }
  }
  return ticks / 100;
}
