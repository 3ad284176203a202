/**
 * DNS for delivery and for mailauth: `delivery.dnsServers` when set (tests and `mxkit local` point
 * it at a loopback server), the system resolver otherwise. Answers are cached for a short while so
 * a burst of messages to one domain costs one lookup.
 */
import { promises as dns } from 'node:dns';
import type { DNSResolver } from 'mailauth';

const CACHE_MS = 60_000;

export class DeliveryResolver {
  private readonly resolver = new dns.Resolver({ timeout: 3000, tries: 2 });
  private readonly cache = new Map<string, { expires: number; value: Promise<unknown> }>();

  constructor(servers?: readonly string[]) {
    if (servers && servers.length > 0) this.resolver.setServers([...servers]);
  }

  /** Any record type, cached; failures are cached too, briefly, so a dead domain is not hammered. */
  resolve(name: string, rrtype: string): Promise<unknown> {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = this.resolver.resolve(name, rrtype);
    this.cache.set(key, { expires: now + CACHE_MS, value });
    value.catch(() => this.cache.set(key, { expires: Date.now() + 5000, value }));
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    return value;
  }

  async mx(domain: string): Promise<Array<{ exchange: string; priority: number }>> {
    return (await this.resolve(domain, 'MX')) as Array<{ exchange: string; priority: number }>;
  }

  /** IPv4 then IPv6 addresses of a host; empty when it has none. */
  async addresses(host: string): Promise<string[]> {
    const found: string[] = [];
    for (const type of ['A', 'AAAA'] as const) {
      try {
        found.push(...((await this.resolve(host, type)) as string[]));
      } catch (error) {
        if (!isNoData(error)) throw error;
      }
    }
    return found;
  }

  /** For mailauth's `resolver` option (SPF, DKIM, DMARC, ARC, MTA-STS lookups). */
  readonly forMailauth: DNSResolver = (name, rrtype) => this.resolve(name, rrtype) as Promise<string[][]>;
}

/** NXDOMAIN or an empty answer: the name (or record type) does not exist. */
export function isNoData(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

export function isNxDomain(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOTFOUND';
}
