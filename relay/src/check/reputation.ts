/**
 * Reputation: the host's addresses looked up in DNS blocklists (RFC 5782). A listing is a fail (mail
 * from a listed address is refused widely); a blocklist the DNS server cannot answer for — offline,
 * a loopback test server, or a list refusing public resolvers — is "not checked", a warn.
 */
import { reverseName, type DnsClient } from './dns-client';
import { fail, pass, warn, type CheckResult } from './types';

/** RFC 5782 §2.1 (IPv4: octets reversed) and §2.4 (IPv6: nibbles reversed). */
export function dnsblQueryName(address: string, zone: string): string {
  return reverseName(address, zone);
}

/**
 * RFC 5782 §2.1: a listing answers with an address in 127.0.0.0/8 (127.0.0.2 and up). Spamhaus
 * answers 127.255.255.0/24 for "query refused" (public resolver, rate limit): not a listing.
 */
function classify(answers: string[]): 'listed' | 'refused' | 'odd' {
  if (answers.every((answer) => answer.startsWith('127.255.255.'))) return 'refused';
  if (answers.some((answer) => /^127\./.test(answer) && !answer.startsWith('127.255.255.'))) return 'listed';
  return 'odd';
}

export async function checkBlocklists(dns: DnsClient, addresses: string[], zones: string[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const address of addresses) {
    for (const zone of zones) {
      const id = `reputation.${zone}.${address}`;
      const name = dnsblQueryName(address, zone);
      const notChecked = `ask a resolver that can reach ${zone} (--dns-server), or leave it out with --dnsbl`;
      const found = await dns.a(name);
      if (found.kind === 'absent') {
        results.push(pass(id, 'reputation', `${address} is not listed on ${zone}`));
        continue;
      }
      if (found.kind === 'error') {
        results.push(warn(id, 'reputation', `${address} on ${zone}: not checked (${found.message})`, notChecked));
        continue;
      }
      const verdict = classify(found.records);
      if (verdict === 'refused') {
        results.push(warn(id, 'reputation', `${address} on ${zone}: not checked (the list refused the query: ${found.records.join(', ')})`, notChecked));
      } else if (verdict === 'odd') {
        results.push(warn(id, 'reputation', `${address} on ${zone}: not checked (answer ${found.records.join(', ')} is not a blocklist code; the resolver may rewrite NXDOMAIN)`, notChecked));
      } else {
        // RFC 5782 §2.1: the TXT record at the same name usually says why and where to delist.
        const why = await dns.txt(name);
        const text = why.kind === 'found' ? `: ${why.records.join(' ')}` : '';
        results.push(fail(id, 'reputation', `${address} is LISTED on ${zone} (${found.records.join(', ')})${text}`, `find and stop what sent spam from ${address}, then request removal from ${zone} (its TXT record names the page)`));
      }
    }
  }
  return results;
}
