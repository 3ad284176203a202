/**
 * Runs `node dist/mxkit.js local` as a child process, the way a developer or a tool outside the
 * project does, and waits for its contract: `DIR/endpoints.json` appearing. The wait is driven by
 * events (the folder changing, the child printing, the child exiting), never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import type { Endpoints } from '../../../relay/src/local/endpoints';
import { BUNDLE } from '../../helpers/child-relay';

export interface LocalRun {
  child: ChildProcess;
  stateDir: string;
  endpoints: Endpoints;
  output(): string;
  /** Resolves once the output matches (it may already). */
  waitForOutput(pattern: RegExp): Promise<void>;
  /** SIGTERM, then the exit code once the process is gone. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnLocal(args: string[]): { child: ChildProcess; exited: Promise<number | null>; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [BUNDLE, 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** Runs `mxkit local` expecting it to fail at start-up; resolves with what it printed. */
export async function runLocalToExit(args: string[]): Promise<Finished> {
  const run = spawnLocal(args);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

function readEndpoints(stateDir: string): Endpoints | undefined {
  const file = join(stateDir, 'endpoints.json');
  if (!existsSync(file)) return undefined;
  // Written by rename, so a file that exists is complete.
  return JSON.parse(readFileSync(file, 'utf8')) as Endpoints;
}

/** Starts `mxkit local --state DIR --ports auto` (the folder must exist) and resolves once endpoints.json is there. */
export function startLocal(stateDir: string, extraArgs: string[] = ['--ports', 'auto']): Promise<LocalRun> {
  const run = spawnLocal(['--state', stateDir, ...extraArgs]);
  const output = () => run.stdout() + run.stderr();
  return new Promise((resolve, reject) => {
    const watcher = watch(stateDir);
    let settled = false;
    const check = () => {
      if (settled) return;
      const endpoints = readEndpoints(stateDir);
      if (!endpoints) return;
      settled = true;
      watcher.close();
      const stop = () => {
        if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
        return run.exited;
      };
      const waitForOutput = (pattern: RegExp) =>
        new Promise<void>((found, failed) => {
          const look = () => {
            if (!pattern.test(output())) return;
            run.child.stdout?.off('data', look);
            found();
          };
          run.child.stdout?.on('data', look);
          run.exited.then(() => failed(new Error(`mxkit local exited without printing ${pattern}:\n${output()}`)));
          look();
        });
      resolve({ child: run.child, stateDir, endpoints, output, waitForOutput, stop, exited: run.exited });
    };
    watcher.on('change', check);
    run.child.stdout?.on('data', check);
    run.exited.then((code) => {
      if (settled) return;
      settled = true;
      watcher.close();
      reject(new Error(`mxkit local exited with ${code} before writing endpoints.json:\n${output()}`));
    });
    check();
  });
}

/** Processes whose command line mentions `text` (here: a state folder), from /proc. */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (commandLine.includes(text)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked: it is gone, which is what we are checking for.
    }
  }
  return pids;
}
