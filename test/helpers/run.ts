import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion, feeding it `input` on stdin (a string as UTF-8, a Buffer as it is). */
export function run(command: string, args: readonly string[], input: string | Buffer = '', env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // A program that should exit but hangs is killed well inside jest's timeout, so the test
    // fails on its assertions instead of timing out.
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A program may exit without reading its input (a script that decides before reading): the
    // write then fails with EPIPE, which says nothing about the program -- its exit code does.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.stdin.end(input);
  });
}

/** Debian's own python3 (its python3-dkim/spf modules import only there). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
