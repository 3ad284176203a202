/**
 * mxkit under benchmark: the built bundle, with the rights Postfix has in its baseline config
 * (trustedNetworks = loopback, like mynetworks), fsync'ed spool and DKIM signing on, delivering
 * to the sink as its smarthost (or, with `routes`, to each domain's MX through a bench DNS server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { RELAY_NODE_OPTIONS } from '../relay/src/ops/heap-mode';
import { waitForBanner } from './net';

export interface MxkitRelay {
  port: number;
  httpPort: number;
  process: ChildProcess;
  startToReadyMs: number;
  stop(): Promise<void>;
}

export const BUNDLE = join(__dirname, '..', 'dist', 'mxkit.js');

/**
 * The relay's environment in the bench: the bench's own, less what the relay's image
 * (relay/Dockerfile) and the host's unit never set. NODE_EXTRA_CA_CERTS (development machines set
 * it for a proxy's CA) makes Node parse that file's certificates before any code runs: ~40 ms of
 * every start on the bench machine, a cost of that machine, not of the relay (docs/benchmarks.md
 * "Method").
 */
export function relayEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS'));
}

/**
 * The bundle's code cache, made once before the bench as the relay's image makes it when it is
 * built (relay/Dockerfile: `mxkit code-cache` with the relay's node options and Node.js): the bench
 * starts the relay as it starts where it is deployed. Returns the command's line ("wrote ...").
 */
export function makeCodeCache(): string {
  const made = spawnSync(process.execPath, [...RELAY_NODE_OPTIONS, BUNDLE, 'code-cache'], { env: relayEnvironment(), encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mxkit code-cache failed (${made.status}): ${made.stderr}`);
  return made.stdout.trim();
}

export interface MxkitDestination {
  /** Everything to one smarthost (like Postfix's relayhost). */
  smarthost?: { host: string; port: number };
  /** Or MX delivery: DNS from this server, remote port for every MX. */
  mx?: { dnsServer: string; port: number };
}

export interface MxkitSettings {
  port: number;
  httpPort: number;
  senderDomain: string;
  destination: MxkitDestination;
  /** delivery.retrySchedule (default: the relay's). */
  retrySchedule?: string[];
  /** Outbound sessions per destination, as Postfix's *_destination_concurrency_limit. */
  concurrency?: number;
}

/** Writes relay.json (and, once, the TLS and DKIM keys) under `root`; returns its path. */
export async function writeMxkitConfig(root: string, settings: MxkitSettings): Promise<string> {
  mkdirSync(join(root, 'spool'), { recursive: true });
  if (!existsSync(join(root, 'dkim.key'))) {
    const tls = await generate([{ name: 'commonName', value: 'relay.bench.test' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256' });
    writeFileSync(join(root, 'tls.crt'), tls.cert);
    writeFileSync(join(root, 'tls.key'), tls.private);
    writeFileSync(join(root, 'dkim.key'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  const concurrency = settings.concurrency ?? 20;
  const { smarthost, mx } = settings.destination;
  const config = {
    hostname: 'relay.bench.test',
    domains: ['bench.test'],
    listen: { submission: { host: '127.0.0.1', port: settings.port }, http: { host: '127.0.0.1', port: settings.httpPort } },
    tls: { certFile: join(root, 'tls.crt'), keyFile: join(root, 'tls.key') },
    dkim: [{ domain: settings.senderDomain, selector: 'bench', keyFile: join(root, 'dkim.key') }],
    trustedNetworks: ['127.0.0.0/8'],
    spoolDir: join(root, 'spool'),
    delivery: {
      ...(smarthost ? { smarthost: { host: smarthost.host, port: smarthost.port } } : {}),
      // The bench's MX hosts are loopback addresses, which delivery refuses unless allowed (issue 13).
      ...(mx ? { dnsServers: [mx.dnsServer], port: mx.port, allowPrivateAddresses: true } : {}),
      ...(settings.retrySchedule ? { retrySchedule: settings.retrySchedule } : {}),
      // Postfix's baseline may open 20 sessions to a destination; so may mxkit here.
      throttle: {
        providers: [{ name: 'smarthost', mxSuffixes: ['smarthost.bench.invalid'], concurrency, messagesPerMinute: 0 }],
        default: { concurrency, messagesPerMinute: 0 },
      },
    },
    limits: { maxConnectionsPerIp: 5000, maxConnections: 5000 },
    log: { level: 'warn' },
  };
  const path = join(root, 'relay.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

export async function startMxkit(configPath: string, port: number, httpPort: number, nodeArgs: readonly string[] = []): Promise<MxkitRelay> {
  const started = Date.now();
  const child = spawn(process.execPath, [...RELAY_NODE_OPTIONS, ...nodeArgs, BUNDLE, 'relay', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: relayEnvironment() });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await Promise.race([waitForReady(httpPort), exited.then(() => Promise.reject(new Error(`mxkit exited (${child.exitCode}) before it was ready`)))]);
  const startToReadyMs = Date.now() - started;
  await waitForBanner('127.0.0.1', port);
  // The bench made the cache (makeCodeCache): a start that did not use it is not the start measured.
  const codeCache = await codeCacheStatus(httpPort);
  if (codeCache !== 'used') {
    child.kill('SIGTERM');
    throw new Error(`mxkit started without its code cache (mxkit_code_cache_info status ${codeCache}): run the bench after makeCodeCache`);
  }
  return {
    port,
    httpPort,
    process: child,
    startToReadyMs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
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

/** The relay's /metrics, as text. */
async function metricsText(httpPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
}

/** The status label of the relay's mxkit_code_cache_info (how its start compiled the program). */
export async function codeCacheStatus(httpPort: number): Promise<string> {
  const text = await metricsText(httpPort);
  return /^mxkit_code_cache_info\{status="([^"]+)"\} 1$/m.exec(text)?.[1] ?? 'not reported';
}

/** One metric's value from the relay's /metrics (sum over its label sets), NaN when absent. */
export async function metric(httpPort: number, name: string): Promise<number> {
  const text = await metricsText(httpPort);
  const values = text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
  return values.length === 0 ? NaN : values.reduce((sum, value) => sum + value, 0);
}
