/**
 * `npm run rehearse` itself: skipped (exit 0) without root; and when it fails half-way it still
 * leaves no process, mount, loop device or work folder behind. (The full rehearsal runs in CI as
 * its own step.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { run } from '../helpers/run';

const ROOT = path.join(__dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts', 'rehearse.mjs');
const isRoot = process.getuid?.() === 0;

/** Processes whose command line mentions the rehearsal bundle (this machine's whole /proc). */
function rehearsalProcesses(): string[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return command.includes('rehearse.cjs') ? [`${pid} ${command}`] : [];
      } catch {
        return [];
      }
    });
}

describe('npm run rehearse', () => {
  test('prints "skipped: needs root" and exits 0 for a user who is not root', async () => {
    // As root, drop to nobody for this run; otherwise the test user is already not root.
    const argv = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, SCRIPT] : [process.execPath, SCRIPT];
    const result = await run(argv[0], argv.slice(1));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('skipped: needs root');
  });

  (isRoot ? test : test.skip)('a rehearsal that fails after the first boot leaves no process, mount, loop device or folder behind', async () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith('mxkit-rehearsal-'));
    // Not test/helpers/run: it stops a program after 20 s, and under a loaded machine this one may take longer.
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [SCRIPT], { env: { ...process.env, MXKIT_REHEARSAL_BREAK: 'after-first-boot' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    // The whole output in the comparison: a failure for another reason shows what it was.
    expect({ code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
      code: 1,
      stderr: expect.stringContaining('rehearsal FAILED: broken on purpose after the first boot'),
      stdout: expect.stringMatching(/cleaned up: namespaces ended with their last process, \/dev\/loop\d+ detached/),
    });
    expect(execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' })).not.toContain('mxkit-rehearsal-');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('mxkit-rehearsal-');
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith('mxkit-rehearsal-'))).toEqual(before);
    expect(rehearsalProcesses()).toEqual([]);
  }, 120_000);
});
if (!isRoot) test('the failure-cleanup rehearsal: skipped: needs root', () => undefined);
