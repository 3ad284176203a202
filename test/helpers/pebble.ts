/**
 * Debian's pebble (a test ACME CA, RFC 8555) run from a test, on loopback ports picked for it.
 * Pebble cannot listen on port 0, so free ports are found by binding port 0 and releasing it.
 * Its HTTP-01 validator connects to `httpPort` on the address the name resolves to through
 * `dnsPort` (see acme-dns.ts): point that at the relay's listen.acmeHttp.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export const PEBBLE = '/usr/bin/pebble';

export interface PebbleOptions {
  /** Folder for its config and HTTPS certificate. */
  dir: string;
  /** The DNS server its validator asks (127.0.0.1:dnsPort). */
  dnsPort: number;
  /** The port it validates HTTP-01 on: the relay's listen.acmeHttp port. */
  httpPort: number;
  /** ACME port; default a free one. Pass the previous one to restart pebble "at the same URL". */
  listenPort?: number;
  /** Lifetime of the certificates it issues (pebble's certificateValidityPeriod). */
  validitySeconds?: number;
}

export interface Pebble {
  directoryUrl: string;
  listenPort: number;
  /** PEM file of the certificate pebble's own HTTPS (the directory) uses: the relay's tls.acme.caFile. */
  httpsCaFile: string;
  /** Everything pebble printed so far. */
  output(): string;
  /** Resolves once pebble's output matches `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
  /** How many certificates pebble has issued so far (its "Issued certificate" lines). */
  issued(): number;
  /** How many orders were placed with it so far (its "Added order" lines). */
  orders(): number;
  /** The root that signs issued certificates (management interface /roots/0), as PEM. */
  rootCertificate(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A port that was free a moment ago, for a server whose port must be known before it starts
 * (pebble validates HTTP-01 on the relay's acmeHttp port). Taken below the kernel's ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default): every server bound to port 0
 * and every outgoing connection get their port from that range, so none of them can take this
 * one between the check and its use, as happened on a loaded machine with the port-0 trick.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port between 20000 and 32000 after 50 tries');
}

/** Resolves once 127.0.0.1:`port` accepts a TCP connection, retrying while refused until `gone` settles. */
async function untilAccepting(port: number, gone: Promise<void>): Promise<void> {
  let stopped = false;
  void gone.then(() => (stopped = true));
  while (!stopped) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The certificate of pebble's own HTTPS (the directory), in `dir`: made once and reused, so a
 * client configured with it before pebble starts (or restarts) still trusts it.
 */
export async function writePebbleHttpsCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, 'pebble-https.crt');
  const keyFile = join(dir, 'pebble-https.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  const pems = await generate([{ name: 'commonName', value: 'pebble.localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  writeFileSync(certFile, pems.cert);
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  return { certFile, keyFile };
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const { certFile, keyFile } = await writePebbleHttpsCertificate(options.dir);
  const listenPort = options.listenPort ?? (await freePort());
  const managementPort = await freePort();
  const configFile = join(options.dir, `pebble-${listenPort}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: certFile,
        privateKey: keyFile,
        httpPort: options.httpPort,
        tlsPort: await freePort(),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const child: ChildProcess = spawn(PEBBLE, ['-config', configFile, '-dnsserver', `127.0.0.1:${options.dnsPort}`], {
    // No random validation sleeps, no deliberately rejected nonces, no reused authorizations:
    // every order is validated, promptly and deterministically.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const notify = () => {
    for (const watcher of [...watchers]) {
      if (!watcher.pattern.test(output)) continue;
      watchers.splice(watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  };
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    notify();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve) => {
      watchers.push({ pattern, resolve });
      notify();
    });

  // Pebble logs "Listening on" before it binds (cmd/pebble/main.go: the log line, then
  // ListenAndServeTLS; the management interface likewise in its own goroutine), so the line only
  // says it is about to: a test that used the port at once was refused now and then. Ready is when
  // both ports accept a connection.
  await Promise.race([
    waitFor(/Listening on: /).then(() => Promise.all([untilAccepting(listenPort, exited), untilAccepting(managementPort, exited)])),
    exited.then(() => {
      throw new Error(`pebble exited before it listened:\n${output}`);
    }),
  ]);

  return {
    directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
    listenPort,
    httpsCaFile: certFile,
    output: () => output,
    waitFor,
    issued: () => (output.match(/Issued certificate serial/g) ?? []).length,
    orders: () => (output.match(/Added order/g) ?? []).length,
    rootCertificate: () =>
      new Promise<string>((resolve, reject) => {
        get(`https://127.0.0.1:${managementPort}/roots/0`, { ca: readFileSync(certFile) }, (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve(body));
        }).on('error', reject);
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
