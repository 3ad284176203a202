/**
 * Where mail for a domain goes (RFC 5321 5.1): its MX hosts by preference (equal preferences in
 * random order), or the domain itself when it has no MX but has an address ("implicit MX"). A null
 * MX (RFC 7505: one MX of preference 0 with exchange ".") means the domain takes no mail: bounce
 * at once. At most MAX_HOSTS hosts are tried per attempt.
 */
import { isNoData, isNxDomain, type DeliveryResolver } from './resolver';
import { localOutcome, type Outcome } from './outcome';

export const MAX_HOSTS = 5;

export interface MailHost {
  /** The MX name (what MTA-STS matches and TLS verifies). */
  name: string;
  preference: number;
}

export type Route = { kind: 'hosts'; hosts: MailHost[] } | { kind: 'failed'; outcome: Outcome };

export async function routeDomain(resolver: DeliveryResolver, domain: string): Promise<Route> {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.mx(domain);
  } catch (error) {
    if (isNxDomain(error)) return failed(localOutcome('no_such_domain', `${domain}: no such domain`));
    if (!isNoData(error)) return failed(localOutcome('dns', `${domain}: MX lookup failed: ${(error as Error).message}`));
    records = [];
  }
  const normalised = records.map((record) => ({ name: record.exchange.replace(/\.$/, '').toLowerCase(), preference: record.priority }));
  if (normalised.some((record) => record.name === '')) {
    // RFC 7505 3: a null MX is the only MX; treat any null MX as "no mail".
    return failed(localOutcome('null_mx', `${domain} accepts no mail (null MX, RFC 7505)`));
  }
  if (normalised.length === 0) {
    // RFC 5321 5.1: no MX -> the domain itself is the host, if it has an address.
    try {
      const addresses = await resolver.addresses(domain);
      if (addresses.length === 0) return failed(localOutcome('no_mail_host', `${domain} has no MX and no address`));
    } catch (error) {
      return failed(localOutcome('dns', `${domain}: address lookup failed: ${(error as Error).message}`));
    }
    return { kind: 'hosts', hosts: [{ name: domain, preference: 0 }] };
  }
  const shuffled = normalised.map((host) => ({ host, tiebreak: Math.random() }));
  shuffled.sort((a, b) => a.host.preference - b.host.preference || a.tiebreak - b.tiebreak);
  return { kind: 'hosts', hosts: shuffled.map(({ host }) => host).slice(0, MAX_HOSTS) };
}

function failed(outcome: Outcome): Route {
  return { kind: 'failed', outcome };
}
