/**
 * mxkit under benchmark: the built bundle, with the rights Postfix has in its baseline config
 * (trustedNetworks = loopback, like mynetworks), fsync'ed spool and DKIM signing on, delivering
 * everything to the sink as its smarthost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { waitForBanner } from './net';

export interface MxkitRelay {
  port: number;
  httpPort: number;
  process: ChildProcess;
  startToReadyMs: number;
  stop(): Promise<void>;
}

export const BUNDLE = join(__dirname, '..', 'dist', 'mxkit.js');

export async function writeMxkitConfig(root: string, port: number, httpPort: number, sink: { host: string; port: number }, senderDomain: string): Promise<string> {
  mkdirSync(join(root, 'spool'), { recursive: true });
  const tls = await generate([{ name: 'commonName', value: 'relay.bench.test' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256' });
  writeFileSync(join(root, 'tls.crt'), tls.cert);
  writeFileSync(join(root, 'tls.key'), tls.private);
  const dkim = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(join(root, 'dkim.key'), dkim);
  const config = {
    hostname: 'relay.bench.test',
    domains: ['bench.test'],
    listen: { submission: { host: '127.0.0.1', port }, http: { host: '127.0.0.1', port: httpPort } },
    tls: { certFile: join(root, 'tls.crt'), keyFile: join(root, 'tls.key') },
    dkim: [{ domain: senderDomain, selector: 'bench', keyFile: join(root, 'dkim.key') }],
    trustedNetworks: ['127.0.0.0/8'],
    spoolDir: join(root, 'spool'),
    delivery: { smarthost: { host: sink.host, port: sink.port } },
    limits: { maxConnectionsPerIp: 5000, maxConnections: 5000 },
    log: { level: 'warn' },
  };
  const path = join(root, 'relay.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

export async function startMxkit(configPath: string, port: number, httpPort: number): Promise<MxkitRelay> {
  const started = Date.now();
  const child = spawn(process.execPath, [BUNDLE, 'relay', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForReady(httpPort);
  const startToReadyMs = Date.now() - started;
  await waitForBanner('127.0.0.1', port);
  return {
    port,
    httpPort,
    process: child,
    startToReadyMs,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function waitForReady(httpPort: number): Promise<void> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
