/**
 * An authoritative test DNS server (dns2, UDP + TCP on one loopback port) for `mxkit check` tests:
 * serves exactly the records given, PTR included, so each test can publish a deliberately broken
 * zone. Names under the zones with no records get NXDOMAIN (that is how a blocklist says "not
 * listed"); names outside every zone get REFUSED, so nothing is ever forwarded off the machine.
 */
import type { AddressInfo, Socket } from 'node:net';
import DNS from 'dns2';
import { splitTxt } from '../../infra/builders/txt';

const { Packet } = DNS;
const RCODE = { NXDOMAIN: 3, REFUSED: 5 } as const;

export type TestRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CAA';

export interface TestRecord {
  name: string;
  type: TestRecordType;
  /** A/AAAA address, MX exchange, PTR target, TXT text (unsplit), CAA value. */
  value: string;
  priority?: number;
  caa?: { flags: number; tag: string; value: string };
}

export interface CheckDnsServer {
  /** `127.0.0.1:PORT`, what --dns-server takes. */
  server: string;
  port: number;
  close(): Promise<void>;
}

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

/** The in-addr.arpa name of an IPv4 address (RFC 1035 §3.5). */
export function ptrName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

function rdata(record: TestRecord): Partial<DNS.Packet.Resource> {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return { address: record.value };
    case 'MX':
      return { exchange: record.value, priority: record.priority ?? 10 };
    case 'TXT':
      return { data: splitTxt(record.value) };
    case 'PTR':
      return { domain: record.value };
    case 'CAA':
      return record.caa ?? { flags: 0, tag: 'issue', value: record.value };
  }
}

function answer(records: readonly TestRecord[], zones: readonly string[], request: DNS.Packet): DNS.Packet {
  const response = Packet.createResponseFromRequest(request);
  const [question] = request.questions;
  if (!question) return response;
  const name = normalise(question.name);
  if (!zones.some((zone) => name === zone || name.endsWith(`.${zone}`))) {
    response.header.rcode = RCODE.REFUSED;
    return response;
  }
  response.header.aa = 1;
  // Empty non-terminals (e.g. _domainkey.example.test) exist: NOERROR, no data (RFC 8020).
  if (!records.some((r) => normalise(r.name) === name || normalise(r.name).endsWith(`.${name}`))) {
    response.header.rcode = RCODE.NXDOMAIN;
    return response;
  }
  for (const record of records) {
    if (normalise(record.name) !== name || Packet.TYPE[record.type] !== question.type) continue;
    response.answers.push(
      Packet.createResourceFromQuestion(question, { name: question.name, type: Packet.TYPE[record.type], class: Packet.CLASS.IN, ttl: 60, ...rdata(record) }),
    );
  }
  return response;
}

function listening(server: { once(event: 'error', listener: (error: Error) => void): unknown }, start: (ready: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start(resolve);
  });
}

/** UDP on port 0 first, then TCP on the same port (long DKIM answers are truncated over UDP and retried over TCP). */
export async function startCheckDns(records: readonly TestRecord[], zones: readonly string[]): Promise<CheckDnsServer> {
  const zoneNames = zones.map(normalise);
  const handle = (request: DNS.Packet, send: (response: DNS.Packet) => Promise<Buffer>) => {
    send(answer(records, zoneNames, request)).catch(() => undefined);
  };
  for (let attempt = 0; ; attempt++) {
    const udp = DNS.createUDPServer(handle);
    await listening(udp, (ready) => udp.bind(0, '127.0.0.1', ready));
    const port = udp.address().port;
    const tcp = DNS.createTCPServer(handle);
    try {
      await listening(tcp, (ready) => tcp.listen(port, '127.0.0.1', ready));
    } catch (error) {
      udp.close();
      if (attempt < 5) continue;
      throw error;
    }
    const sockets = new Set<Socket>();
    tcp.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    for (const server of [udp, tcp]) server.on('requestError', () => undefined);
    const tcpPort = (tcp.address() as AddressInfo).port;
    return {
      server: `127.0.0.1:${tcpPort}`,
      port: tcpPort,
      close: async () => {
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), tcpClosed]);
      },
    };
  }
}
