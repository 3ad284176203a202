/**
 * A container as the kernel sees it, from /proc (proc(5)): its argv, the flags of each mount it
 * has, its capabilities, user and no_new_privs. The rehearsal holds these against the docker run
 * line, so "read-only where the flags say so" is checked on the running process.
 */
import { readFileSync } from 'node:fs';
import type { Instance } from './instance';

/** Mount flags per mount point, from /proc/<pid>/mountinfo (proc(5)): what the process really has. */
function mountFlags(pid: number): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean)) {
    const fields = line.split(' ');
    flags.set(fields[4], fields[5].split(','));
  }
  return flags;
}

interface ContainerExpectation {
  /** Mount point → the flag the docker run line asks for. */
  mounts: Array<[string, 'ro' | 'rw']>;
  /** CapEff and CapBnd in /proc/<pid>/status (hex). */
  capabilities: string;
  uid: string;
}

/**
 * A container as the kernel sees it, checked against its docker run line: mounts read-only where
 * the flags say so, exactly the capabilities left, the image's user, no_new_privs.
 */
export function containerFacts(instance: Instance, name: string, expected: ContainerExpectation): { argv: string; summary: string } {
  const { pid } = JSON.parse(instance.read(`/run/docker-standin/${name}.json`)) as { pid: number };
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (key: string) => new RegExp(`^${key}:\\s*(\\S+)`, 'm').exec(status)?.[1];
  const mounts = mountFlags(pid);
  for (const [target, mode] of expected.mounts) {
    if (!mounts.get(target)?.includes(mode)) throw new Error(`in ${name} ${target} is ${mounts.get(target)?.join(',') ?? 'not mounted'}, the docker run line says ${mode}`);
  }
  if (field('CapEff') !== expected.capabilities || field('CapBnd') !== expected.capabilities) throw new Error(`${name} has capabilities ${field('CapEff') ?? '?'} (bounding ${field('CapBnd') ?? '?'}), not ${expected.capabilities}`);
  if (field('NoNewPrivs') !== '1') throw new Error(`${name} runs without no_new_privs`);
  if (field('Uid') !== expected.uid) throw new Error(`${name} runs as uid ${field('Uid') ?? '?'}, not ${expected.uid}`);
  const flags = expected.mounts.map(([target, mode]) => `${target} ${mode}`).join(', ');
  return { argv, summary: `uid ${expected.uid}; ${flags}; capabilities ${expected.capabilities === '0000000000000000' ? 'none' : 'NET_BIND_SERVICE only'}; no_new_privs` };
}

