/**
 * `mxkit local`'s state folder and start-up failures: a second run reuses what the first made;
 * a broken folder, a busy port or a folder in use gives one clear line, a non-zero exit, and
 * leaves no process behind.
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PORTS } from '../../relay/src/local/settings';
import { processesMentioning, runLocalToExit, startLocal } from './helpers/local-process';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mxkit-local-state-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function folder(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function expectOneLineFailure(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^mxkit: local: /);
  expect(lines[0]).toMatch(pattern);
}

describe('mxkit local state folder', () => {
  it('a second run reuses the DKIM keys, the certificates and the demo password', async () => {
    const dir = folder('reuse');
    const first = await startLocal(dir);
    const files = ['dkim.key', 'sender-dkim.key', 'tls.crt', 'tls.key', 'inbox-tls.crt'].map((name) => readFileSync(join(dir, name), 'utf8'));
    expect(await first.stop()).toBe(0);
    const second = await startLocal(dir);
    try {
      expect(second.endpoints.user.password).toBe(first.endpoints.user.password);
      expect(['dkim.key', 'sender-dkim.key', 'tls.crt', 'tls.key', 'inbox-tls.crt'].map((name) => readFileSync(join(dir, name), 'utf8'))).toEqual(files);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('a DKIM key that is not a key gives one line naming the file, and a non-zero exit', async () => {
    const dir = folder('broken-key');
    writeFileSync(join(dir, 'dkim.key'), 'not a key\n');
    expectOneLineFailure(await runLocalToExit(['--state', dir, '--ports', 'auto']), /state folder .* is broken: dkim\.key is not a PEM private key/);
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('a demo user file that is not JSON gives one line naming the file', async () => {
    const dir = folder('broken-user');
    writeFileSync(join(dir, 'demo-user.json'), '{');
    expectOneLineFailure(await runLocalToExit(['--state', dir, '--ports', 'auto']), /demo-user\.json is not JSON/);
  });

  it('a --state that is a file, not a folder, gives one line', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    expectOneLineFailure(await runLocalToExit(['--state', file, '--ports', 'auto']), /is not a folder/);
  });

  it('a folder in use by a running mxkit local is refused with the pid that holds it', async () => {
    const dir = folder('in-use');
    const running = await startLocal(dir);
    try {
      expectOneLineFailure(await runLocalToExit(['--state', dir, '--ports', 'auto']), new RegExp(`in use by mxkit local \\(pid ${running.child.pid}\\)`));
    } finally {
      expect(await running.stop()).toBe(0);
    }
  });

  it('a default port already in use gives one line with the fix, and nothing keeps running', async () => {
    const dir = folder('busy-port');
    // The DNS server binds first; hold its TCP port. If something else already holds it, the outcome is the same.
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.once('error', () => resolve()).listen(DEFAULT_PORTS.dns, '127.0.0.1', () => resolve()));
    try {
      expectOneLineFailure(await runLocalToExit(['--state', dir]), /already in use.*--ports auto/);
      expect(processesMentioning(dir)).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('with --rspamd off runs without content scanning, and says so', async () => {
    const run = await startLocal(folder('no-rspamd'), ['--ports', 'auto', '--rspamd', 'off']);
    try {
      await run.waitForOutput(/Records: dig/);
      expect(run.output()).toContain('rspamd     not running (turned off with --rspamd off): no content scanning');
      expect(run.endpoints.rspamd).toBeUndefined();
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });

  it('an unknown --rspamd value is a usage error', async () => {
    const result = await runLocalToExit(['--state', folder('usage-rspamd'), '--rspamd', 'on']);
    expect(result.code).toBe(64);
    expect(result.stderr.trim()).toMatch(/^mxkit local: --rspamd takes only "off"/);
  });

  it('an unknown --ports value is a usage error', async () => {
    const result = await runLocalToExit(['--state', folder('usage'), '--ports', 'fixed']);
    expect(result.code).toBe(64);
    expect(result.stderr.trim()).toMatch(/^mxkit local: --ports takes only "auto"/);
  });
});
