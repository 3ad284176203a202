/**
 * A whole small "internet" for `mxkit check` tests, all on 127.0.0.1: a test DNS server with a
 * zone (good by default, broken on request), a real relay (startTestRelay), an HTTPS server with
 * the MTA-STS policy, and one certificate valid for both host names so a single --ca trusts both.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { buildMailRecords, mtaStsPolicy, type MailRecordsInput } from '../../infra/builders/records';
import type { CheckOptions } from '../../relay/src/check/types';
import { ptrName, startCheckDns, type CheckDnsServer, type TestRecord } from '../helpers/dns-server';
import { HOSTNAME, startTestRelay, tempDir, type TestRelay } from '../helpers/relay';

export const DOMAIN = 'example.test';
export const IP = '127.0.0.1';
export const SELECTOR = 'mx1';
/** A blocklist zone the test DNS serves: NXDOMAIN for every address unless a test lists one. */
export const BLOCKLIST = 'bl.test';
export const MTA_STS = { mode: 'enforce', maxAge: '1d' } as const;

const DAY = 86_400_000;

export interface Certificate {
  cert: string;
  key: string;
}

/**
 * A self-signed certificate (its own CA, so --ca pins it) for `names`, valid from..to. Two test CAs
 * trusted together need different subjects (`commonName`): OpenSSL finds an issuer by subject.
 */
export async function makeCertificate(names: string[], validity: { from: Date; to: Date }, commonName = names[0]): Promise<Certificate> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: validity.from,
    notAfterDate: validity.to,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export const validFor = (days: number) => ({ from: new Date(Date.now() - DAY), to: new Date(Date.now() + days * DAY) });
export const expiredDaysAgo = (days: number) => ({ from: new Date(Date.now() - (days + 90) * DAY), to: new Date(Date.now() - days * DAY) });

let dkimKey: string | undefined;
/** One 2048-bit DKIM public key per test file (key generation is the slow part). */
export function dkimPublicKey(): string {
  dkimKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return dkimKey;
}

/** The zone a correct stack publishes for example.test on 127.0.0.1, plus the PTR pulumi sets. */
export function goodZone(input: Partial<MailRecordsInput> = {}): TestRecord[] {
  const records = buildMailRecords({
    domain: DOMAIN,
    hostname: HOSTNAME,
    ipv4: IP,
    dkim: { selector: SELECTOR, publicKey: dkimPublicKey() },
    dmarcPolicy: 'quarantine',
    mtaSts: MTA_STS,
    caaIssuers: ['letsencrypt.org'],
    ...input,
  });
  return [
    ...records.map((r): TestRecord => ({ name: r.name, type: r.type, value: r.value, priority: r.priority, caa: r.caa, srv: r.srv })),
    { name: ptrName(IP), type: 'PTR', value: HOSTNAME },
  ];
}

/** The zones the test DNS answers for: the domain, reverse DNS and the blocklist. */
export const ZONES = [DOMAIN, 'in-addr.arpa', BLOCKLIST];

/** Replace every record of (name, type) — how a test breaks one thing in an otherwise good zone. */
export function withRecord(zone: TestRecord[], name: string, type: TestRecord['type'], value: string | undefined): TestRecord[] {
  const rest = zone.filter((r) => !(r.name === name && r.type === type));
  return value === undefined ? rest : [...rest, { name, type, value }];
}

/** A port nothing listens on: bound by the kernel, then released. */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, IP, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startPolicyServer(certificate: Certificate): Promise<Server> {
  const policy = mtaStsPolicy(MTA_STS.mode, [HOSTNAME], MTA_STS.maxAge);
  const server = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    if (req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
  });
  await new Promise<void>((resolve) => server.listen(0, IP, resolve));
  return server;
}

export interface World {
  relay: TestRelay;
  caFile: string;
  ca: string;
  httpsPort: number;
  closedPort: number;
  /** Serve `zone` from a fresh DNS server; it is closed by stop(). */
  dns(zone: TestRecord[]): Promise<CheckDnsServer>;
  /** CheckOptions aimed at the relay's ports and `dns`. */
  options(dns: CheckDnsServer, overrides?: Partial<CheckOptions>): CheckOptions;
  stop(): Promise<void>;
}

/** A relay with a certificate valid for `relayCertificate` (default: a year, both names). */
export async function startWorld(relayValidity = validFor(365)): Promise<World> {
  const certificate = await makeCertificate([HOSTNAME, `mta-sts.${DOMAIN}`], relayValidity);
  const dir = tempDir('mxkit-check-');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certificate.cert);
  const relay = await startTestRelay((config, relayDir) => {
    writeFileSync(join(relayDir, 'check.crt'), certificate.cert);
    writeFileSync(join(relayDir, 'check.key'), certificate.key, { mode: 0o600 });
    config.tls = { certFile: join(relayDir, 'check.crt'), keyFile: join(relayDir, 'check.key') };
  });
  const policyServer = await startPolicyServer(certificate);
  const servers: CheckDnsServer[] = [];
  const unused = await closedPort();
  return {
    relay,
    caFile,
    ca: certificate.cert,
    httpsPort: (policyServer.address() as AddressInfo).port,
    closedPort: unused,
    async dns(zone) {
      const server = await startCheckDns(zone, ZONES);
      servers.push(server);
      return server;
    },
    options(dns, overrides = {}) {
      return {
        domain: DOMAIN,
        selector: SELECTOR,
        dnsServer: dns.server,
        ports: { smtp: relay.port('mx'), submission: relay.port('submission'), submissions: relay.port('submissions'), https: (policyServer.address() as AddressInfo).port },
        closedPorts: [unused],
        dnsblZones: [BLOCKLIST],
        ca: certificate.cert,
        relayTestRecipient: 'someone@elsewhere.test',
        timeoutMs: 5000,
        ...overrides,
      };
    },
    async stop() {
      await Promise.all(servers.map((server) => server.close()));
      await new Promise<void>((resolve) => policyServer.close(() => resolve()));
      await relay.stop();
    },
  };
}
