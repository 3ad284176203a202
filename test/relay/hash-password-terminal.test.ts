/**
 * `mxkit hash-password` on a real terminal (a pseudo-terminal from python3's pty module): it
 * prompts, reads one line with echo off, and Enter alone ends it.
 */
import { spawn } from 'node:child_process';
import { verifyPassword } from '../../relay/src/intake/password';
import { BUNDLE } from '../helpers/child-relay';
import { run, SYSTEM_PYTHON } from '../helpers/run';

/**
 * Starts the command on a new pty, waits for the prompt, types `keys`, then reads what the
 * terminal shows until the command exits. Prints JSON {screen, status}. Never waits on a clock
 * but for the overall deadline.
 */
const TYPE_ON_A_TERMINAL = `
import json, os, pty, select, sys, time
node, bundle, keys = sys.argv[1], sys.argv[2], sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(node, [node, bundle, 'hash-password'])
screen, typed, deadline = b'', False, time.monotonic() + 15
while time.monotonic() < deadline:
    ready, _, _ = select.select([fd], [], [], deadline - time.monotonic())
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    screen += data
    if not typed and b'Password' in screen:
        os.write(fd, keys)
        typed = True
_, status = os.waitpid(pid, 0)
print(json.dumps({'screen': screen.decode('utf8', 'replace'), 'status': os.waitstatus_to_exitcode(status)}))
`;

async function typeOnTerminal(keys: string): Promise<{ screen: string; status: number }> {
  const result = await run(SYSTEM_PYTHON, ['-c', TYPE_ON_A_TERMINAL, process.execPath, BUNDLE, keys]);
  if (result.code !== 0) throw new Error(`pty driver failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { screen: string; status: number };
}

describe('mxkit hash-password on a terminal', () => {
  it('reads one line ended by Enter alone, never shows it, and prints the hash', async () => {
    const { screen, status } = await typeOnTerminal('correct horse\r');
    expect(status).toBe(0);
    expect(screen).toContain('Password (not shown): ');
    expect(screen).not.toContain('correct horse');
    const hash = /\$scrypt\$\S+/.exec(screen)?.[0] ?? '';
    expect(await verifyPassword('correct horse', hash)).toBe(true);
  });

  it('lets the user correct a typo with Backspace', async () => {
    const { screen, status } = await typeOnTerminal('s3cretX\u007f\r');
    expect(status).toBe(0);
    const hash = /\$scrypt\$\S+/.exec(screen)?.[0] ?? '';
    expect(await verifyPassword('s3cret', hash)).toBe(true);
  });

  it('stops on Ctrl-C without printing a hash', async () => {
    const { screen, status } = await typeOnTerminal('half\u0003');
    expect(status).toBe(130);
    expect(screen).not.toContain('$scrypt$');
  });
});

describe('mxkit hash-password from a pipe', () => {
  it('takes the first line without waiting for the end of the input', async () => {
    // The writer keeps stdin open after the line: the hash comes anyway, and the command exits.
    const child = spawn(process.execPath, [BUNDLE, 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stdin.write('piped pw\nsecond line\n');
      expect(await exited).toBe(0);
    } finally {
      child.stdin.destroy();
    }
    expect(await verifyPassword('piped pw', stdout.trim())).toBe(true);
  });
});
