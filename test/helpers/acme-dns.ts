/**
 * The ACME tests' DNS, on the local stack's answerer (relay/src/local/dns-server.ts): every name
 * under the given zones has an A record 127.0.0.1 and no AAAA, so pebble's HTTP-01 validator
 * connects to the relay on this machine and never reaches out. Anything else is REFUSED.
 */
import type DNS from 'dns2';
import { startDnsServer, ZoneAnswerer } from '../../relay/src/local/dns-server';

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
  const server = await startDnsServer(answerer, '127.0.0.1', 0);
  return { port: server.port, queries, close: server.close };
}
