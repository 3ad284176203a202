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

/** CPU milliseconds the processes `pids` have used so far (each with its threads and reaped children). */
function cpuMsOf(pids: readonly number[]): number {
  return (pids.reduce((sum, pid) => sum + processTicks(pid), 0) * 1000) / clockTicks();
}

/** CPU milliseconds the tree under `roots` has used so far. */
export function treeCpuMs(roots: readonly number[]): number {
  return cpuMsOf(processTree(roots));
}

/**
 * CPU milliseconds of the harness so far: this process (the bench, which reads the sink's counter
 * and samples memory) with the children it has reaped (smtp-source), and the processes in `others`
 * (the sink). Not part of any system's figure; it shows what the load itself costs on the same cores.
 * Not the tree under this process: the system under test is a child of it too.
 */
export function harnessCpuMs(others: readonly number[]): number {
  return cpuMsOf([process.pid, ...others]);
}

export interface CoreTimes {
  busy: number;
  total: number;
}

/** The machine's CPU time so far, all cores (/proc/stat's first line: idle and iowait are not busy). */
export function coreTimes(): CoreTimes {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3] + fields[4];
  return { busy: total - idle, total };
}

/** Share of all cores' time that was busy between two readings, in percent. */
export function busyPercent(before: CoreTimes, after: CoreTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.busy - before.busy)) / total : 0;
}

/** A machine counts as quiet when under this share of all cores was busy over one window. */
const QUIET_PERCENT = 10;
const QUIET_WINDOW_MS = 200;

/**
 * Waits until the machine is quiet (under 10% of all cores busy over 200 ms) or `maxMs` passed, and
 * returns how long that took. Every system starts on a machine the previous one has left: a stopped
 * Postfix's ~1,000 idle smtpd processes may still be exiting, the kernel freeing their memory, and
 * a start measured then would carry another system's teardown.
 */
export async function untilQuiet(maxMs = 10_000): Promise<number> {
  const began = Date.now();
  for (;;) {
    const before = coreTimes();
    await new Promise((resolve) => setTimeout(resolve, QUIET_WINDOW_MS));
    if (busyPercent(before, coreTimes()) < QUIET_PERCENT || Date.now() - began >= maxMs) return Date.now() - began;
  }
}
