/**
 * An in-process DNS server (dns2) on 127.0.0.1, UDP and TCP on the same port, answering from a
 * table the test controls. Names not in the table get NXDOMAIN; a known name without the asked
 * type gets an empty NOERROR answer (what real servers do), so "no MX, fall back to A" works.
 */
import dns2 from 'dns2';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface Zone {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** Each entry is one TXT record; long ones are split into 255-byte strings. */
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

const { Packet } = dns2;

function split255(text: string): string[] {
  const parts: string[] = [];
  for (let offset = 0; offset < text.length; offset += 255) parts.push(text.slice(offset, offset + 255));
  return parts.length ? parts : [''];
}

export async function startDnsServer(initial: Record<string, Zone> = {}): Promise<TestDnsServer> {
  const zones = new Map<string, Zone>(Object.entries(initial).map(([name, zone]) => [name.toLowerCase(), zone]));
  const handle: dns2.DnsHandler = (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const zone = zones.get(name);
    if (!zone) {
      response.header.rcode = 3; // NXDOMAIN
      void send(response);
      return;
    }
    const base = { name: question.name, class: Packet.CLASS.IN, ttl: 60 };
    if (question.type === Packet.TYPE.A) zone.A?.forEach((address) => response.answers.push({ ...base, type: Packet.TYPE.A, address } as dns2.Packet.Resource));
    if (question.type === Packet.TYPE.AAAA) zone.AAAA?.forEach((address) => response.answers.push({ ...base, type: Packet.TYPE.AAAA, address } as dns2.Packet.Resource));
    if (question.type === Packet.TYPE.MX) zone.MX?.forEach((mx) => response.answers.push({ ...base, type: Packet.TYPE.MX, exchange: mx.exchange, priority: mx.priority } as dns2.Packet.Resource));
    if (question.type === Packet.TYPE.TXT) zone.TXT?.forEach((text) => response.answers.push({ ...base, type: Packet.TYPE.TXT, data: split255(text) } as dns2.Packet.Resource));
    void send(response);
  };
  // TCP on the same port as UDP, for answers too big for UDP (long DKIM keys; RFC 7766). The port
  // the kernel gave UDP may be taken for TCP (another process's connection): then try another.
  const { udp, tcp, port } = await bindBoth(handle);
  return {
    port,
    address: `127.0.0.1:${port}`,
    zones,
    set: (name, zone) => zones.set(name.toLowerCase(), zone),
    txt: (name) => zones.get(name.toLowerCase().replace(/\.$/, ''))?.TXT ?? [],
    close: async () => {
      udp.close();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

async function bindBoth(handle: dns2.DnsHandler, tries = 10): Promise<{ udp: ReturnType<typeof dns2.createUDPServer>; tcp: ReturnType<typeof dns2.createTCPServer>; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dns2.createUDPServer(handle);
    await udp.listen(0, '127.0.0.1');
    const port = udp.address().port;
    const tcp = dns2.createTCPServer(handle);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => resolve());
      });
      return { udp, tcp, port };
    } catch (error) {
      udp.close();
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= tries) throw error;
    }
  }
}
