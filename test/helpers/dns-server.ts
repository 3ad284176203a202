/**
 * The DNS server tests use, on top of the local stack's (relay/src/local/dns-server.ts: ZoneAnswerer
 * and its UDP + TCP server on one loopback port), answering from a table the test controls and may
 * change while it runs. Names not in the table get NXDOMAIN (any name: the server stands for
 * every zone a test asks about); a known name without the asked type gets an empty NOERROR answer
 * (what real servers do), so "no MX, fall back to A" works. Long TXT is split into 255-byte strings.
 */
import type DNS from 'dns2';
import type { DnsRecord } from '../../infra/builders/records';
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
