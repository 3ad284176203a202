/**
 * The one DNS server of the tests: the local stack's (relay/src/local/dns-server.ts: ZoneAnswerer
 * and its UDP + TCP server on one loopback port, long answers truncated over UDP and retried over
 * TCP), fed three ways:
 * - startDnsServer: a table the test controls and may change while it runs. Names not in the table
 *   get NXDOMAIN (any name: it stands for every zone a test asks about); a known name without the
 *   asked type gets an empty NOERROR answer, so "no MX, fall back to A" works.
 * - startCheckDns: exactly the records given, PTR and CAA included, for `mxkit check` tests that
 *   publish deliberately broken zones; names outside the zones are REFUSED.
 * - startAcmeDns: every name under the zones is 127.0.0.1, so pebble's HTTP-01 validator connects
 *   to the relay on this machine and never reaches out.
 */
import type DNS from 'dns2';
import type { CaaData, DnsRecord, SrvData } from '../../infra/builders/records';
import { reverseName } from '../../relay/src/check/dns-client';
import { startDnsServer as startServer, ZoneAnswerer, type ServedRecord } from '../../relay/src/local/dns-server';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface Zone {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** Each entry is one TXT record. */
  TXT?: string[];
}

export interface TestDnsServer {
  port: number;
  /** For `delivery.dnsServers`. */
  address: string;
  zones: Map<string, Zone>;
  set(name: string, zone: Zone): void;
  /** TXT lookup from the table, for python3-dkim's dnsfunc. */
  txt(name: string): string[];
  close(): Promise<void>;
}

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The table in the shape the local stack's answerer serves. */
function servedRecords(zones: ReadonlyMap<string, Zone>): ServedRecord[] {
  const records: ServedRecord[] = [];
  const add = (name: string, type: DnsRecord['type'], value: string, priority?: number) =>
    records.push({ key: `test-${records.length}`, name, type, value, content: value, ttl: 60, ...(priority === undefined ? {} : { priority }) });
  for (const [name, zone] of zones) {
    zone.A?.forEach((address) => add(name, 'A', address));
    zone.AAAA?.forEach((address) => add(name, 'AAAA', address));
    zone.MX?.forEach((mx) => add(name, 'MX', mx.exchange, mx.priority));
    zone.TXT?.forEach((text) => add(name, 'TXT', text));
  }
  return records;
}

export async function startDnsServer(initial: Record<string, Zone> = {}): Promise<TestDnsServer> {
  const zones = new Map<string, Zone>(Object.entries(initial).map(([name, zone]) => [normalise(name), zone]));
  const answerer = {
    // Authoritative for the top-level domain of whatever is asked, so nothing is REFUSED.
    answer(request: DNS.Packet): DNS.Packet {
      const asked = normalise(request.questions[0]?.name ?? '');
      return new ZoneAnswerer(servedRecords(zones), [asked.slice(asked.lastIndexOf('.') + 1)]).answer(request);
    },
  };
  const server = await startServer(answerer, '127.0.0.1', 0);
  return {
    port: server.port,
    address: `127.0.0.1:${server.port}`,
    zones,
    set: (name, zone) => zones.set(normalise(name), zone),
    txt: (name) => zones.get(normalise(name))?.TXT ?? [],
    close: server.close,
  };
}

// --- mxkit check: exactly the given records ---------------------------------------------------

export type TestRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CAA' | 'SRV';

export interface TestRecord {
  name: string;
  type: TestRecordType;
  /** A/AAAA address, MX exchange, PTR target, TXT text (unsplit), CAA value. */
  value: string;
  priority?: number;
  caa?: CaaData;
  srv?: SrvData;
}

export interface CheckDnsServer {
  /** `127.0.0.1:PORT`, what --dns-server takes. */
  server: string;
  port: number;
  close(): Promise<void>;
}

/** The in-addr.arpa name of an IPv4 address (RFC 1035 §3.5). */
export function ptrName(ipv4: string): string {
  return reverseName(ipv4, 'in-addr.arpa');
}

/** The test's records in the shape the local stack's server answers from (the same code serves both). */
function served(records: readonly TestRecord[]): ServedRecord[] {
  return records.map((record, index): ServedRecord => {
    const name = normalise(record.name);
    if (record.type === 'PTR') return { type: 'PTR', name, value: record.value, ttl: 60 };
    const caa = record.type === 'CAA' ? (record.caa ?? { flags: 0, tag: 'issue', value: record.value }) : undefined;
    return { key: `test-${index}`, type: record.type, name, value: record.value, content: record.value, ttl: 60, ...(record.priority === undefined ? {} : { priority: record.priority }), ...(caa ? { caa } : {}), ...(record.srv ? { srv: record.srv } : {}) };
  });
}

/** UDP and TCP on one free loopback port (long DKIM answers are truncated over UDP and retried over TCP). */
export async function startCheckDns(records: readonly TestRecord[], zones: readonly string[]): Promise<CheckDnsServer> {
  const server = await startServer(new ZoneAnswerer(served(records), zones), '127.0.0.1', 0);
  return { server: `127.0.0.1:${server.port}`, port: server.port, close: server.close };
}

// --- ACME: every name under the zones is this machine ------------------------------------------

export interface AcmeDns {
  port: number;
  /** Names asked for, lower-cased, in order (e.g. to see what pebble validated). */
  queries: string[];
  close(): Promise<void>;
}

export async function startAcmeDns(zones: readonly string[]): Promise<AcmeDns> {
  const queries: string[] = [];
  const answerer = {
    answer(request: DNS.Packet): DNS.Packet {
      const name = (request.questions[0]?.name ?? '').toLowerCase().replace(/\.$/, '');
      queries.push(name);
      return new ZoneAnswerer([{ key: 'acme', type: 'A', name, value: '127.0.0.1', content: '127.0.0.1', ttl: 60 }], zones).answer(request);
    },
  };
  const server = await startServer(answerer, '127.0.0.1', 0);
  return { port: server.port, queries, close: server.close };
}
