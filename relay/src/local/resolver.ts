/**
 * A mailauth resolver that asks the local DNS only: SPF, DKIM, DMARC and ARC verdicts in the inbox
 * then depend on exactly the records `mxkit local` publishes, never on the machine's resolver.
 */
import { Resolver } from 'node:dns/promises';
import type { DNSResolver } from 'mailauth';

export function localResolver(host: string, port: number): DNSResolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([`${host}:${port}`]);
  // mailauth calls it like dns.promises.resolve(name, type) and reads MX and TXT in node's shapes;
  // its typings only name the TXT shape.
  return (name, rrtype) => resolver.resolve(name, rrtype) as unknown as Promise<string[][] | string[]>;
}
