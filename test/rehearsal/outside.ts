/**
 * The world outside the instance, inside the rehearsal's network namespace: the DNS (answering from
 * the records the mocks recorded for Cloudflare, the PTR AWS would publish, and an outside domain),
 * and that outside domain's mail server, which can be told to defer (451) to make mail queue.
 */
import { SMTPServer } from 'smtp-server';
import { buildMailRecords } from '../../infra/builders/records';
import { reverseName } from '../../relay/src/check/dns-client';
import { startDnsServer, ZoneAnswerer, type DnsServer, type ServedRecord } from '../../relay/src/local/dns-server';
import { makeCertificate } from '../helpers/tls';
import type { RehearsalWorld } from './world';

/**
 * The outside mail server's address: a global unicast one, because delivery connects only to MX
 * addresses that are public (relay/src/delivery/public-address.ts; RFC 5737 documentation ranges
 * are not). It exists only inside the rehearsal's network namespace, so nothing leaves the machine.
 * The instance has the EIP the mocks gave.
 */
export const OUTSIDE_IP = '93.184.216.34';
export const OUTSIDE_DOMAIN = 'example.org';
export const OUTSIDE_HOST = `mx.${OUTSIDE_DOMAIN}`;

export interface ReceivedMessage {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
}

export interface OutsideServer {
  received: ReceivedMessage[];
  /** DATA transactions answered 451 while deferring. */
  deferred: number;
  deferring: boolean;
  waitFor(predicate: (message: ReceivedMessage) => boolean, timeoutMs: number): Promise<ReceivedMessage>;
  waitForDeferred(count: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export function servedRecords(world: RehearsalWorld): { records: ServedRecord[]; zones: string[] } {
  const outside = buildMailRecords({ domain: OUTSIDE_DOMAIN, hostname: OUTSIDE_HOST, ipv4: OUTSIDE_IP });
  const outsidePtr: ServedRecord = { type: 'PTR', name: reverseName(OUTSIDE_IP, 'in-addr.arpa'), value: OUTSIDE_HOST, ttl: 3600 };
  // The Cloudflare zone holding the records: the mocks know its ID, not its name; the domain's last
  // two labels stand for it, answering NXDOMAIN for the names it does not hold.
  const zoneOf = (name: string) => name.split('.').slice(-2).join('.');
  const zones = [zoneOf(world.domain), zoneOf(world.hostname), OUTSIDE_DOMAIN, ...[world.publicIp, OUTSIDE_IP].map((ip) => reverseName(ip, 'in-addr.arpa').split('.').slice(1).join('.'))];
  return { records: [...world.records, ...world.ptrs, ...outside, outsidePtr], zones };
}

/** The resolver everyone asks (the instance as its VPC DNS): port 53, answering only for the rehearsal's zones. */
export function startDns(world: RehearsalWorld): Promise<DnsServer> {
  const { records, zones } = servedRecords(world);
  return startDnsServer(new ZoneAnswerer(records, zones), '0.0.0.0', 53);
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startOutsideServer(): Promise<OutsideServer> {
  const certificate = await makeCertificate(OUTSIDE_HOST);
  const state: OutsideServer = {
    received: [],
    deferred: 0,
    deferring: false,
    waitFor: async (predicate, timeoutMs) => {
      await until(() => state.received.some(predicate), timeoutMs, 'the message at the outside mail server');
      return state.received.find(predicate) as ReceivedMessage;
    },
    waitForDeferred: (count, timeoutMs) => until(() => state.deferred >= count, timeoutMs, `${count} deferred deliveries`),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    name: OUTSIDE_HOST,
    key: certificate.key,
    cert: certificate.cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (state.deferring) {
          state.deferred++;
          return callback(Object.assign(new Error('4.3.0 Try again later (rehearsal)'), { responseCode: 451 }));
        }
        state.received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
        });
        callback(null, 'Ok: delivered');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(25, OUTSIDE_IP, () => resolve());
  });
  return state;
}
