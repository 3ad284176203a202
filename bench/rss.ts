/**
 * Memory of a process tree, sampled from /proc (Linux). PSS (proportional set size) rather than
 * RSS: Postfix runs many processes that share their libraries, and summing their RSS would count
 * each shared page once per process.
 */
import { readdirSync, readFileSync } from 'node:fs';

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function pssKiB(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (match) return Number(match[1]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return rss ? Number(rss[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pids of `roots` and all their descendants. */
export function processTree(roots: readonly number[]): number[] {
  const all = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  const tree = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const pid of all) {
      const parent = parentOf(pid);
      if (!tree.has(pid) && parent !== undefined && tree.has(parent)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** Total PSS of the tree in KiB. */
export function treeRssKiB(roots: readonly number[]): number {
  return processTree(roots).reduce((sum, pid) => sum + pssKiB(pid), 0);
}

/** Samples the tree's total RSS every `intervalMs` until stopped; returns the peak in MiB. */
export function samplePeakRss(roots: () => number[], intervalMs = 100): { stop(): number } {
  let peak = 0;
  const take = () => (peak = Math.max(peak, treeRssKiB(roots())));
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak / 1024;
    },
  };
}
