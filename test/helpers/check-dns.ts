/**
 * An authoritative test DNS server (dns2, UDP + TCP on one loopback port) for `mxkit check` tests:
 * serves exactly the records given, PTR included, so each test can publish a deliberately broken
 * zone. Names under the zones with no records get NXDOMAIN (that is how a blocklist says "not
 * listed"); names outside every zone get REFUSED, so nothing is ever forwarded off the machine.
 */
import type { CaaData } from '../../infra/builders/records';
import { reverseName } from '../../relay/src/check/dns-client';
import { startDnsServer, ZoneAnswerer, type ServedRecord } from '../../relay/src/local/dns-server';

export type TestRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CAA';

export interface TestRecord {
  name: string;
  type: TestRecordType;
  /** A/AAAA address, MX exchange, PTR target, TXT text (unsplit), CAA value. */
  value: string;
  priority?: number;
  caa?: CaaData;
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

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The test's records in the shape the local stack's server answers from (the same code serves both). */
function served(records: readonly TestRecord[]): ServedRecord[] {
  return records.map((record, index): ServedRecord => {
    const name = normalise(record.name);
    if (record.type === 'PTR') return { type: 'PTR', name, value: record.value, ttl: 60 };
    const caa = record.type === 'CAA' ? (record.caa ?? { flags: 0, tag: 'issue', value: record.value }) : undefined;
    return { key: `test-${index}`, type: record.type, name, value: record.value, content: record.value, ttl: 60, ...(record.priority === undefined ? {} : { priority: record.priority }), ...(caa ? { caa } : {}) };
  });
}

/** UDP and TCP on one free loopback port (long DKIM answers are truncated over UDP and retried over TCP). */
export async function startCheckDns(records: readonly TestRecord[], zones: readonly string[]): Promise<CheckDnsServer> {
  const server = await startDnsServer(new ZoneAnswerer(served(records), zones), '127.0.0.1', 0);
  return { server: `127.0.0.1:${server.port}`, port: server.port, close: server.close };
}
