/**
 * An authoritative DNS server on loopback (dns2, UDP and TCP on one port) answering from a fixed
 * list of records. UDP answers too large for the client's buffer come back truncated (dns2 sets
 * TC), and resolvers retry over TCP: that is how a 2048-bit DKIM key travels. Names outside the
 * zones are REFUSED: nothing here ever forwards a query off the machine.
 */
import type { AddressInfo, Socket } from 'node:net';
import DNS from 'dns2';
import { splitTxt } from '../../../infra/builders/txt';
import type { DnsRecord } from '../../../infra/builders/records';
import { listenError } from './errors';
import type { PtrRecord } from './reverse-zone';

const { Packet } = DNS;
type Resource = Partial<DNS.Packet.Resource>;
/** RFC 1035 §4.1.1 (dns2 has them at run time as Packet.RCODE, but its typings do not). */
const RCODE = { FORMERR: 1, NXDOMAIN: 3, REFUSED: 5 } as const;

/** The builder's records of the mail domains, plus the reverse zone's pointers. */
export type ServedRecord = DnsRecord | PtrRecord;

export interface DnsServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** RDATA fields in dns2's shape for one record. */
function rdata(record: ServedRecord): Resource {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return { address: record.value };
    case 'MX':
      return { exchange: record.value, priority: record.priority ?? 10 };
    case 'TXT':
      // The builder keeps TXT unsplit; on the wire each character-string is at most 255 octets.
      return { data: splitTxt(record.value) };
    case 'CAA':
      return record.caa ? { flags: record.caa.flags, tag: record.caa.tag, value: record.caa.value } : {};
    case 'SRV':
      return record.srv ? { priority: record.srv.priority, weight: record.srv.weight, port: record.srv.port, target: record.srv.target } : {};
    case 'PTR':
      return { domain: record.value };
  }
}

export class ZoneAnswerer {
  private readonly zones: string[];

  constructor(
    private records: readonly ServedRecord[],
    zones: readonly string[],
  ) {
    this.zones = zones.map(normalise);
  }

  /** Serves `records` from now on (e.g. SRV records once the relay's ports are known). */
  replaceRecords(records: readonly ServedRecord[]): void {
    this.records = records;
  }

  answer(request: DNS.Packet): DNS.Packet {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (!question) {
      response.header.rcode = RCODE.FORMERR;
      return response;
    }
    const name = normalise(question.name);
    if (!this.zones.some((zone) => name === zone || name.endsWith(`.${zone}`))) {
      response.header.rcode = RCODE.REFUSED;
      return response;
    }
    response.header.aa = 1;
    // A name exists if it owns records or has names below it (an empty non-terminal such as
    // _domainkey.example.test): NOERROR with no answer, not NXDOMAIN (RFC 8020).
    const exists = this.records.some((r) => r.name === name || r.name.endsWith(`.${name}`));
    if (!exists) {
      response.header.rcode = RCODE.NXDOMAIN;
      return response;
    }
    for (const record of this.records) {
      if (record.name !== name || (question.type !== Packet.TYPE.ANY && Packet.TYPE[record.type] !== question.type)) continue;
      // Echo the question's spelling of the name: resolvers that randomise case (DNS 0x20) compare it.
      response.answers.push(
        Packet.createResourceFromQuestion(question, { name: question.name, type: Packet.TYPE[record.type], class: Packet.CLASS.IN, ttl: record.ttl, ...rdata(record) }),
      );
    }
    return response;
  }
}

/** What the server asks for each query (ZoneAnswerer, or a test's answerer built on it). */
export interface Answerer {
  answer(request: DNS.Packet): DNS.Packet;
}

type Bindable = { once(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown; off(event: 'error', listener: (error: NodeJS.ErrnoException) => void): unknown };

/** Resolves once bound; rejects with the bind error (EADDRINUSE, ...) instead of emitting it. */
function bound(server: Bindable, start: (ready: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    start(() => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Binds UDP first, then TCP on the same port. With port 0 the kernel picks the UDP port, which may
 * be taken for TCP: then the UDP socket is released and another port is tried.
 */
export async function startDnsServer(answerer: Answerer, host: string, port: number): Promise<DnsServer> {
  const handle = (request: DNS.Packet, send: (response: DNS.Packet) => Promise<Buffer>) => {
    send(answerer.answer(request)).catch(() => undefined);
  };
  for (let attempt = 0; ; attempt++) {
    const udp = DNS.createUDPServer(handle);
    try {
      await bound(udp, (ready) => udp.bind(port, host, ready));
    } catch (error) {
      udp.close();
      throw listenError('dns (udp)', host, port, error as NodeJS.ErrnoException);
    }
    const udpPort = udp.address().port;
    const tcp = DNS.createTCPServer(handle);
    try {
      await bound(tcp, (ready) => tcp.listen(udpPort, host, ready));
    } catch (error) {
      udp.close();
      if (port === 0 && attempt < 5) continue;
      throw listenError('dns (tcp)', host, udpPort, error as NodeJS.ErrnoException);
    }
    return serving(udp, tcp, host);
  }
}

function serving(udp: DNS.UDPServer, tcp: DNS.TCPServer, host: string): DnsServer {
  // A malformed packet or a reset from a stray client must not stop the server.
  for (const server of [udp, tcp]) {
    server.on('error', () => undefined);
    server.on('requestError', () => undefined);
  }
  const connections = new Set<Socket>();
  tcp.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  const close = async (): Promise<void> => {
    const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    // Resolvers keep TCP connections open for reuse; do not wait for them to go idle.
    for (const socket of connections) socket.destroy();
    await Promise.all([new Promise<void>((resolve) => udp.close(() => resolve())), tcpClosed]);
  };
  return { host, port: (tcp.address() as AddressInfo).port, close };
}
