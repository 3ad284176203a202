/**
 * The loopback "internet" of the ACME tests: a DNS server that sends every *.example.test name to
 * 127.0.0.1, pebble validating HTTP-01 on the relay's listen.acmeHttp port, and relays configured
 * for tls.acme. Helpers read what a client sees (STARTTLS serial, HTTPS body, /readyz, /metrics).
 */
import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate } from 'node:tls';
import type { RelayConfigInput } from '../../../relay/src/config/schema';
import type { TlsRuntimeOptions } from '../../../relay/src/tls';
import { startAcmeDns, type AcmeDns } from '../../helpers/dns-server';
import { freePort, startPebble, writePebbleHttpsCertificate, type Pebble } from '../../helpers/pebble';
import { HOSTNAME, startTestRelay, tempDir, type TestRelay } from '../../helpers/relay';
import { run } from '../../helpers/run';
import { SmtpDialog } from '../../helpers/smtp-dialog';

export const MTA_STS_HOST = 'mta-sts.example.test';
export const NAMES = [HOSTNAME, MTA_STS_HOST];

export interface AcmeWorld {
  dir: string;
  dns: AcmeDns;
  /** The relay's listen.acmeHttp port, where pebble validates HTTP-01. */
  acmeHttpPort: number;
  /** Pebble's ACME port: fixed, so a stopped pebble can come back at the same directory URL. */
  pebblePort: number;
  pebble: Pebble | undefined;
  accountKeyFile: string;
  /** The certificate of pebble's own HTTPS (the relay's tls.acme.caFile). */
  pebbleCaFile: string;
  startPebble(): Promise<Pebble>;
  stop(): Promise<void>;
}

export async function createAcmeWorld(options: { pebbleRunning: boolean }): Promise<AcmeWorld> {
  const dir = tempDir('mxkit-acme-');
  const accountKeyFile = join(dir, 'account.key');
  // RFC 8555 §6.2: the account key signs every request (ES256 here; Pulumi makes the real one).
  writeFileSync(accountKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  // Written now, so a relay can name it (tls.acme.caFile) before pebble first starts.
  const { certFile: pebbleCaFile } = await writePebbleHttpsCertificate(dir);
  const dns = await startAcmeDns(['example.test']);
  const world: AcmeWorld = {
    dir,
    dns,
    acmeHttpPort: await freePort(),
    pebblePort: await freePort(),
    pebble: undefined,
    accountKeyFile,
    pebbleCaFile,
    async startPebble() {
      world.pebble = await startPebble({ dir, dnsPort: dns.port, httpPort: world.acmeHttpPort, listenPort: world.pebblePort });
      return world.pebble;
    },
    async stop() {
      await world.pebble?.stop();
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.pebbleRunning) await world.startPebble();
  return world;
}

export interface AcmeRelayOptions {
  stateDir?: string;
  tls?: TlsRuntimeOptions;
  acme?: Partial<NonNullable<NonNullable<RelayConfigInput['tls']>['acme']>>;
}

/** Rewrites a test relay config for tls.acme against the world's pebble (certFile/keyFile removed). */
export function useAcme(world: AcmeWorld, options: AcmeRelayOptions = {}): (config: RelayConfigInput) => void {
  return (config) => {
    config.listen = {
      mx: { host: '127.0.0.1', port: 0 },
      submission: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      acmeHttp: { host: '127.0.0.1', port: world.acmeHttpPort },
      https: { host: '127.0.0.1', port: 0 },
    };
    config.mtaSts = { mode: 'enforce', maxAge: '7d' };
    config.tls = {
      acme: {
        directoryUrl: `https://127.0.0.1:${world.pebblePort}/dir`,
        accountKeyFile: world.accountKeyFile,
        email: 'postmaster@example.test',
        names: NAMES,
        stateDir: options.stateDir ?? join(world.dir, 'acme-state'),
        caFile: world.pebbleCaFile,
        checkInterval: '100ms',
        ...options.acme,
      },
    };
  };
}

/** An in-process relay with tls.acme against the world's pebble. */
export function startAcmeRelay(world: AcmeWorld, options: AcmeRelayOptions = {}): Promise<TestRelay> {
  return startTestRelay(useAcme(world, options), { authFailureDelayMs: 50, tls: { pollMs: 50, ...options.tls } });
}

/** The port of the relay's listen.https (the MTA-STS policy). */
export function httpsPort(relay: TestRelay): number {
  const address = relay.relay.addresses.https;
  if (!address) throw new Error('listen.https is not running');
  return address.port;
}

/** Waits for a log line matching `pattern` and returns the latest such line, parsed. */
export async function logLine(relay: TestRelay, pattern: RegExp): Promise<Record<string, unknown>> {
  await relay.waitForLog(pattern);
  const lines = relay.logs.filter((line) => pattern.test(line));
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/** The serial number `openssl s_client -starttls smtp` is shown, verified against `caFile` for `servername`. */
export async function opensslSerial(port: number, caFile: string, servername: string): Promise<string> {
  const shown = await run(
    'openssl',
    ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_hostname', servername, '-servername', servername, '-crlf', '-verify_return_error'],
    'QUIT\n',
  );
  if (shown.code !== 0) throw new Error(`openssl s_client failed: ${shown.stderr}`);
  const printed = await run('openssl', ['x509', '-noout', '-serial'], shown.stdout);
  return printed.stdout.trim().replace(/^serial=/, '').toUpperCase();
}

/**
 * The certificate a new STARTTLS session on `port` is given. With `ca` the chain is verified for
 * `servername`; without, any certificate is accepted (to look at the temporary one).
 */
export async function startTlsCertificate(port: number, servername: string, ca?: string): Promise<PeerCertificate> {
  const dialog = await SmtpDialog.open(port);
  try {
    await dialog.greet();
    return (await dialog.startTls(ca, servername)).getPeerCertificate();
  } finally {
    dialog.close();
  }
}

export interface WebAnswer {
  status: number;
  body: string;
  contentType: string | undefined;
  serial: string | undefined;
}

/** GET over HTTPS to 127.0.0.1:port as `host`, verifying the certificate with `ca`. */
export function httpsGet(port: number, host: string, path: string, ca: string): Promise<WebAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, agent: false }, (response) => {
      const serial = (response.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate().serialNumber;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, contentType: response.headers['content-type'], serial }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET over plain HTTP to 127.0.0.1:port. */
export function httpGet(port: number, path: string, host = '127.0.0.1'): Promise<WebAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, contentType: response.headers['content-type'], serial: undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of a metric line such as `mxkit_tls_certificate_expiry_seconds{source="acme"} 123`. */
export function metricValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}
