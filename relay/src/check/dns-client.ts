/**
 * The one DNS client every check uses: node's Resolver pointed at `--dns-server` (or the system's
 * servers). All lookups — MX, A, TXT, PTR, CAA and the blocklists — go through it, so a test or
 * `mxkit local` answers every question and nothing leaves the machine.
 */
import { Resolver } from 'node:dns/promises';
import type { CaaRecord, MxRecord } from 'node:dns';
import { isIPv4 } from 'node:net';
import type { DNSResolver } from 'mailauth';

/** A lookup either finds records, finds that none exist, or cannot tell (server refused, timed out). */
export type Lookup<T> = { kind: 'found'; records: T[] } | { kind: 'absent' } | { kind: 'error'; message: string };

export interface DnsClient {
  mx(name: string): Promise<Lookup<MxRecord>>;
  a(name: string): Promise<Lookup<string>>;
  aaaa(name: string): Promise<Lookup<string>>;
  /** TXT records, each joined from its character-strings (RFC 7208 §3.3, RFC 6376 §3.6.2.2). */
  txt(name: string): Promise<Lookup<string>>;
  ptr(address: string): Promise<Lookup<string>>;
  caa(name: string): Promise<Lookup<CaaRecord>>;
  /** The same servers in mailauth's resolver shape, for SPF evaluation. */
  mailauth: DNSResolver;
  /** Describes where answers come from, for messages. */
  servers: string;
}

/** NXDOMAIN and NODATA mean "no such record"; anything else means the question went unanswered. */
const ABSENT_CODES = new Set(['ENOTFOUND', 'ENODATA']);

async function lookup<T>(query: () => Promise<T[]>): Promise<Lookup<T>> {
  try {
    const records = await query();
    return records.length > 0 ? { kind: 'found', records } : { kind: 'absent' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (ABSENT_CODES.has(code)) return { kind: 'absent' };
    return { kind: 'error', message: code || (error instanceof Error ? error.message : String(error)) };
  }
}

/** `HOST:PORT`, `[v6]:PORT` or a bare address, as Resolver.setServers takes them. */
export function parseDnsServer(value: string): string {
  const match = /^(\[[0-9a-f:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/i.exec(value);
  if (!match || (match[2] !== undefined && Number(match[2]) > 65535)) throw new Error(`--dns-server "${value}" is not HOST:PORT`);
  return value;
}

export function createDnsClient(server: string | undefined, timeoutMs: number): DnsClient {
  // tries: 2 — one retransmission over UDP is enough on loopback and keeps "cannot answer" quick.
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server !== undefined) resolver.setServers([parseDnsServer(server)]);
  return {
    mx: (name) => lookup(() => resolver.resolveMx(name)),
    a: (name) => lookup(() => resolver.resolve4(name)),
    aaaa: (name) => lookup(() => resolver.resolve6(name)),
    txt: (name) => lookup(async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''))),
    // resolvePtr on the arpa name, not resolver.reverse(): c-ares answers reverse() from /etc/hosts
    // first, which would report this machine's names instead of what the DNS publishes.
    ptr: (address) => lookup(() => resolver.resolvePtr(reverseName(address, isIPv4(address) ? 'in-addr.arpa' : 'ip6.arpa'))),
    caa: (name) => lookup(() => resolver.resolveCaa(name)),
    // mailauth calls it like dns.promises.resolve(name, type) and reads node's shapes.
    mailauth: (name, rrtype) => resolver.resolve(name, rrtype) as unknown as Promise<string[][] | string[]>,
    servers: resolver.getServers().join(', ') || 'the system resolver',
  };
}

/** Lower case, no trailing dot: how names are compared. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The reversed form of an address under `suffix`: octets for IPv4 (RFC 1035 §3.5; DNSBL RFC 5782
 * §2.1), nibbles for IPv6 (RFC 3596 §2.5; DNSBL RFC 5782 §2.4).
 */
export function reverseName(address: string, suffix: string): string {
  if (isIPv4(address)) return `${address.split('.').reverse().join('.')}.${suffix}`;
  const [head, tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => group.padStart(4, '0'));
  return `${groups.join('').split('').reverse().join('.')}.${suffix}`;
}
