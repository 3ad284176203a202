/**
 * CPU time of a process tree, read from /proc (Linux): user + system time of each process with its
 * threads (mxkit's worker threads, OpenDKIM's threads) plus what its reaped children used
 * (Postfix's master waits for every smtpd, cleanup and smtp process it forks). The difference of two
 * readings is what the system spent on the work between them, whatever the number of cores.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processTree } from './rss';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  return (ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);
}

/** utime + stime + cutime + cstime of one process, in clock ticks (0 when it is gone). */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, from field 3 (state): utime is field 14, cstime field 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
  } catch {
    return 0;
  }
}

/** CPU milliseconds the tree under `roots` has used so far. */
export function treeCpuMs(roots: readonly number[]): number {
  return (processTree(roots).reduce((sum, pid) => sum + processTicks(pid), 0) * 1000) / clockTicks();
}
