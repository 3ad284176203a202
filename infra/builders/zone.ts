/** Formatters for the records of builders/records.ts: a BIND master-file fragment (RFC 1035 §5) and JSON. */
import type { DnsRecord } from './records';

const fqdn = (name: string) => `${name}.`;

/** RDATA in master-file syntax: host names absolute (trailing dot), TXT already quoted and split. */
function rdata(record: DnsRecord): string {
  switch (record.type) {
    case 'MX':
      return `${record.priority ?? 10} ${fqdn(record.value)}`;
    case 'SRV':
      return record.srv ? `${record.srv.priority} ${record.srv.weight} ${record.srv.port} ${fqdn(record.srv.target)}` : record.value;
    case 'CAA':
      return record.caa ? `${record.caa.flags} ${record.caa.tag} "${record.caa.value}"` : record.value;
    default:
      return record.content;
  }
}

/** One record per line; `$TTL` is not used, every line carries its own TTL so lines can be pasted anywhere. */
export function formatZone(records: DnsRecord[]): string {
  const line = (r: DnsRecord) => `${fqdn(r.name)}\t${r.ttl}\tIN\t${r.type}\t${rdata(r)}`;
  const lines = [
    '; mxkit: DNS records for this mail deployment',
    ...records.map((r) => (r.external ? `; publish in the zone of ${r.name.split('._report._dmarc.').pop()} (RFC 7489 7.1 report authorisation):\n${line(r)}` : line(r))),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatJson(records: DnsRecord[]): string {
  return `${JSON.stringify(records, null, 2)}\n`;
}
