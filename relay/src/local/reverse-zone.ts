/**
 * Reverse DNS for the loopback hosts: the local equivalent of the PTR that AWS publishes for a real
 * stack's Elastic IP (infra/components/dns.ts, aws.ec2.EipDomainName). A domain's zone cannot hold
 * it — the address's owner publishes it — so infra's record builder has no PTR type and local makes
 * these itself, in 127.in-addr.arpa (a zone resolvers serve locally anyway, RFC 6303 §4.2).
 */
import type { DnsRecord } from '../../../infra/builders/records';
import { reverseName } from '../check/dns-client';

export const REVERSE_ZONE = '127.in-addr.arpa';

export interface PtrRecord {
  type: 'PTR';
  /** The address's reversed name, e.g. 1.0.0.127.in-addr.arpa. */
  name: string;
  /** The host name it points back to. */
  value: string;
  ttl: number;
}


/**
 * One PTR per host, made from the host's own A record in `records`. AWS sets a PTR only once the
 * name resolves to the address; deriving the PTR from the A record gives the same guarantee (every
 * PTR is forward-confirmed) by construction, and a host without exactly one A record is a bug here.
 */
export function ptrRecords(records: readonly DnsRecord[], hostnames: readonly string[]): PtrRecord[] {
  return hostnames.map((hostname) => {
    const addresses = records.filter((record) => record.type === 'A' && record.name === hostname);
    if (addresses.length !== 1) throw new Error(`${hostname} has ${addresses.length} A records; its PTR needs exactly one`);
    const [a] = addresses;
    const name = reverseName(a.value, 'in-addr.arpa');
    if (!name.endsWith(`.${REVERSE_ZONE}`)) throw new Error(`${hostname} is at ${a.value}, outside ${REVERSE_ZONE}`);
    return { type: 'PTR', name, value: hostname, ttl: a.ttl };
  });
}
