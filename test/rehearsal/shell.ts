/** Running the system tools the rehearsal drives (mount, losetup, chroot, ip …), failing loudly. */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';

export interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

export function tryRun(argv: readonly string[], options: SpawnSyncOptions = {}): Ran {
  const result = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) return { status: 127, stdout: '', stderr: result.error.message };
  return { status: result.status ?? 128, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

export function run(argv: readonly string[], options: SpawnSyncOptions = {}): string {
  const result = tryRun(argv, options);
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed (${result.status}): ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/**
 * The same without blocking this process: the rehearsal's DNS and outside mail server live in it,
 * so anything that may talk to them (the relay, `mxkit check`) must not hold up its event loop.
 */
export function runAsync(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ status: 127, stdout, stderr: error.message }));
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr }));
    // A command that exits without reading its input closes the pipe first.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
