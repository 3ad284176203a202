/**
 * OpenDKIM as Postfix's signing milter, so the baseline signs every message as mxkit does
 * ("equal durability and DKIM"): rsa-sha256, relaxed/relaxed, for the sender domain of the load.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chownSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface OpenDkim {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export async function startOpenDkim(root: string, port: number, domain: string, selector: string): Promise<OpenDkim> {
  const uid = Number(execFileSync('id', ['-u', 'opendkim']).toString());
  const gid = Number(execFileSync('id', ['-g', 'opendkim']).toString());
  const keyFile = join(root, 'opendkim.key');
  writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  chownSync(keyFile, uid, gid); // OpenDKIM refuses keys others could read or that it does not own
  const configFile = join(root, 'opendkim.conf');
  writeFileSync(
    configFile,
    [
      'Syslog no',
      `Domain ${domain}`,
      `Selector ${selector}`,
      `KeyFile ${keyFile}`,
      `Socket inet:${port}@127.0.0.1`,
      'Mode s',
      'Canonicalization relaxed/relaxed',
      'SignatureAlgorithm rsa-sha256',
      'InternalHosts 127.0.0.0/8',
      'UserID opendkim',
      'Background no',
      // The bench's key lives under /tmp, which OpenDKIM's path check would refuse.
      'RequireSafeKeys false',
      '',
    ].join('\n'),
  );
  const child = spawn('opendkim', ['-x', configFile, '-f'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`opendkim did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    port,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
