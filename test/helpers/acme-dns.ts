/**
 * A tiny DNS server (dns2, UDP on loopback) for the ACME tests: every name under the given zones
 * has an A record 127.0.0.1 and no AAAA, so pebble's HTTP-01 validator connects to the relay on
 * this machine and never reaches out. Anything else is REFUSED.
 */
import DNS from 'dns2';

const { Packet } = DNS;
/** RFC 1035 §4.1.1 response codes (dns2's typings lack them). */
const REFUSED = 5;

export interface AcmeDns {
  port: number;
  /** Names asked for, lower-cased, in order (e.g. to see what pebble validated). */
  queries: string[];
  close(): Promise<void>;
}

export async function startAcmeDns(zones: readonly string[]): Promise<AcmeDns> {
  const queries: string[] = [];
  const inZone = (name: string) => zones.some((zone) => name === zone || name.endsWith(`.${zone}`));
  const server = DNS.createUDPServer((request: DNS.Packet, send: (response: DNS.Packet) => Promise<Buffer>) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    const name = (question?.name ?? '').toLowerCase().replace(/\.$/, '');
    queries.push(name);
    if (!question || !inZone(name)) {
      response.header.rcode = REFUSED;
    } else {
      response.header.aa = 1;
      if (question.type === Packet.TYPE.A) {
        response.answers.push({ name: question.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: '127.0.0.1' } as DNS.Packet.Resource);
      }
    }
    send(response).catch(() => undefined);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: server.address().port,
    queries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
