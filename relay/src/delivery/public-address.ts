/**
 * Whether delivery may connect to an address an MX (or MTA-STS policy host) resolved to. A
 * domain's DNS is the sender's or the recipient's to write, so a hostile MX could point the relay
 * at loopback, the instance metadata service (169.254.169.254), or anything on the private network
 * behind it. Only global unicast addresses are used unless delivery.allowPrivateAddresses says
 * otherwise (test and `mxkit local` setups, where "the internet" is on loopback). The operator's
 * own smarthost is exempt: it is configuration, not DNS. Ranges: the IANA special-purpose
 * registries (RFC 6890 and updates) that are not globally reachable, plus multicast.
 */
import { BlockList, isIP } from 'node:net';

const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network" (RFC 791)
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, CGNAT (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link local, cloud metadata (RFC 3927)
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890)
  ['192.0.2.0', 24], // documentation (RFC 5737)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, limited broadcast
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['100::', 64], // discard only (RFC 6666)
  ['2001:db8::', 32], // documentation (RFC 3849)
  ['fc00::', 7], // unique local (RFC 4193)
  ['fe80::', 10], // link local
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

export function isPublicAddress(address: string): boolean {
  // IPv4-mapped and IPv4-compatible forms are judged by the IPv4 address they carry.
  const embedded = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const candidate = embedded ? embedded[1] : address;
  const family = isIP(candidate);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(candidate, family === 4 ? 'ipv4' : 'ipv6');
}
