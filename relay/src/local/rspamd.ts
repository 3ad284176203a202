/**
 * Debian's rspamd (or any rspamd on PATH) as a child process on loopback, for `mxkit local` and
 * the tests: rspamd's shipped config plus our `local.d` (infra/builders/rspamd-config.ts, the
 * builder the deployed container's config comes from), in `offline` form: its resolver is the local
 * DNS, no public fuzzy storage, a tiny TLD list so it starts in about a second. Ready when
 * `GET /ping` answers `pong` (rspamd.com/doc/developers/protocol.html, controller endpoints).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { OFFLINE_TLDS, rspamdLocalConfig } from '../../../infra/builders/rspamd-config';
import { LocalError } from './errors';

export interface RspamdProcess {
  /** For `spam.rspamd.url`. */
  url: string;
  port: number;
  version: string;
  binary: string;
  exited: Promise<string>;
  stop(): Promise<void>;
}

export interface RspamdOptions {
  binary: string;
  /** Folder for local.d, the TLD list, rspamd's databases, pid file and log. Made if missing. */
  dir: string;
  host?: string;
  /** 0: a free port is picked (rspamd cannot report the port it bound). */
  port: number;
  /** The local DNS (host:port): every name rspamd resolves goes there and nowhere else. */
  dnsServer: string;
  flagScore: number;
  rejectScore: number | null;
  /** Longest wait for /ping. */
  startTimeoutMs?: number;
}

/** rspamd on PATH, or where Debian puts it; undefined when not installed. */
export function findRspamd(path = process.env.PATH ?? ''): string | undefined {
  const candidates = [...path.split(delimiter).filter(Boolean).map((dir) => join(dir, 'rspamd')), '/usr/bin/rspamd', '/usr/sbin/rspamd'];
  return candidates.find((candidate) => existsSync(candidate));
}

/** "3.4" from `rspamd --version` ("Rspamd daemon version 3.4"). */
export function rspamdVersion(binary: string): string {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return /version\s+(\S+)/i.exec(`${result.stdout ?? ''}`)?.[1] ?? 'unknown';
}

export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host, port, path: '/ping', timeout: 1000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(response.statusCode === 200 && body.trim() === 'pong'));
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

async function writeConfig(options: RspamdOptions, host: string, port: number): Promise<void> {
  const localD = join(options.dir, 'local.d');
  await mkdir(localD, { recursive: true, mode: 0o700 });
  for (const sub of ['db', 'run']) await mkdir(join(options.dir, sub), { recursive: true, mode: 0o700 });
  const tldFile = join(options.dir, 'tlds.dat');
  await writeFile(tldFile, `${OFFLINE_TLDS.join('\n')}\n`);
  const files = rspamdLocalConfig({
    scanSocket: `${host}:${port}`,
    dnsServers: [options.dnsServer],
    flagScore: options.flagScore,
    rejectScore: options.rejectScore,
    offline: { urlTldFile: tldFile },
    logFile: join(options.dir, 'rspamd.log'),
  });
  for (const [name, content] of Object.entries(files)) await writeFile(join(localD, name), content);
}

export async function startRspamd(options: RspamdOptions): Promise<RspamdProcess> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port === 0 ? await freePort(host) : options.port;
  await writeConfig(options, host, port);
  const args = [
    '-f',
    '--var', `LOCAL_CONFDIR=${options.dir}`,
    '--var', `DBDIR=${join(options.dir, 'db')}`,
    '--var', `RUNDIR=${join(options.dir, 'run')}`,
    '--var', `LOGDIR=${options.dir}`,
    // As root rspamd wants a user to drop to; here it stays who started it (peers: "-u root -g root -i").
    ...(process.getuid?.() === 0 ? ['-u', 'root', '-g', 'root', '-i'] : []),
  ];
  // rspamd's early errors (a bad config, a port in use) go to stderr before its log file is open.
  const stderrPath = join(options.dir, 'rspamd.stderr');
  const stderr = openSync(stderrPath, 'w', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(options.binary, args, { stdio: ['ignore', 'ignore', stderr] });
  } finally {
    closeSync(stderr);
  }
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      resolve(code !== null ? String(code) : (signal ?? 'unknown'));
    }),
  );
  child.once('error', () => undefined);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(force);
  };

  let gone: string | undefined;
  void exited.then((code) => (gone = code));
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  // No readiness signal but the HTTP answer itself: ask until it comes, the process dies, or time is up.
  while (!(await ping(host, port))) {
    if (gone !== undefined) throw new LocalError(`rspamd (${options.binary}) exited (${gone}) before answering; see ${stderrPath} and ${join(options.dir, 'rspamd.log')}`);
    if (Date.now() > deadline) {
      await stop();
      throw new LocalError(`rspamd did not answer on ${host}:${port} within ${Math.round((options.startTimeoutMs ?? 30_000) / 1000)} s; see ${join(options.dir, 'rspamd.log')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `http://${host}:${port}`, port, version: rspamdVersion(options.binary), binary: options.binary, exited, stop };
}
