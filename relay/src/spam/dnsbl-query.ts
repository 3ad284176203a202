/**
 * The pure half of DNS block lists (RFC 5782): the name to ask for a client address, and what the
 * A records that come back mean. No I/O here; dnsbl.ts asks the DNS.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';

/** `::ffff:192.0.2.1` (a v4 client on a dual-stack socket) → `192.0.2.1`; anything else unchanged. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address.replace(/%.*$/, '');
}

/** The 8 groups of an IPv6 address as 4-digit hex, `::` and a trailing dotted quad expanded. */
function ipv6Groups(address: string): string[] | undefined {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (!isIPv4(dotted[1])) return undefined;
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group)) ? groups.map((group) => group.toLowerCase().padStart(4, '0')) : undefined;
}

/**
 * RFC 5782 §2.1 (IPv4: octets reversed) and §2.4 (IPv6: 32 nibbles reversed), then the zone:
 * 192.0.2.99 in zen.spamhaus.org → `99.2.0.192.zen.spamhaus.org`. Undefined for a non-address.
 */
export function dnsblQueryName(address: string, zone: string): string | undefined {
  const plain = plainAddress(address);
  if (isIP(plain) === 4) return `${plain.split('.').reverse().join('.')}.${zone}`;
  if (isIP(plain) !== 6) return undefined;
  const groups = ipv6Groups(plain);
  if (!groups) return undefined;
  return `${groups.join('').split('').reverse().join('.')}.${zone}`;
}

const REFUSED = new BlockList();
// Spamhaus answers 127.255.255.252/254/255 when it will not answer (typo in the zone, query through
// a public or cloud resolver, over quota): spamhaus.org/faqs/dnsbl-usage/#200 "return codes".
REFUSED.addSubnet('127.255.255.0', 24, 'ipv4');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');

export type AnswerMeaning = 'listed' | 'not_listed' | 'refused' | 'unexpected';

/**
 * What a zone's A records say. 127.255.255.0/24 means the query was refused, never "listed"; an
 * answer outside 127.0.0.0/8 (RFC 5782 §2.1 says lists answer there) is what a lapsed list's
 * domain does when someone else's wildcard now answers, so it is not trusted either. With
 * `returnCodes`, only those answers count as listed.
 */
export function answerMeaning(addresses: readonly string[], returnCodes?: BlockList): AnswerMeaning {
  const v4 = addresses.filter((address) => isIPv4(address));
  if (v4.length === 0) return 'not_listed';
  if (v4.some((address) => REFUSED.check(address, 'ipv4'))) return 'refused';
  if (!v4.every((address) => LOOPBACK.check(address, 'ipv4'))) return 'unexpected';
  if (returnCodes && !v4.some((address) => returnCodes.check(address, 'ipv4'))) return 'not_listed';
  return 'listed';
}

/**
 * How replies, logs and metrics name a list. A Spamhaus DQS zone carries the customer's key as its
 * first label (`<key>.zen.dq.spamhaus.net`): the key is a secret, so it is left out.
 */
export function zoneDisplayName(zone: string): string {
  const dqs = /^[^.]+\.(.+\.dq\.spamhaus\.(?:net|com))$/i.exec(zone);
  return dqs ? dqs[1] : zone;
}
