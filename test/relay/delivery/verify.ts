/** Independent checks of what a receiver got: python3-dkim (dkimpy), mailauth SPF/ARC, DSN parsing. */
import { promises as dnsPromises } from 'node:dns';
import type { DNSResolver } from 'mailauth';
import { run, SYSTEM_PYTHON } from '../../helpers/run';
import type { TestDnsServer } from '../../helpers/dns-server';

const DKIMPY = `
import sys, json, dkim
table = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    key = (name.decode() if isinstance(name, bytes) else name).rstrip('.').lower()
    value = table.get(key)
    return value.encode() if value else None
msg = sys.stdin.buffer.read()
print('pass' if dkim.verify(msg, dnsfunc=dnsfunc) else 'fail')
`;

/** Runs Debian's python3-dkim on the message, with DNS answered from the test table. */
export async function dkimpyVerify(raw: Buffer, dns: TestDnsServer): Promise<string> {
  const table = Object.fromEntries([...dns.zones.entries()].filter(([, zone]) => zone.TXT).map(([name, zone]) => [name, (zone.TXT ?? []).join('')]));
  const result = await run(SYSTEM_PYTHON, ['-c', DKIMPY, JSON.stringify(table)], raw);
  if (result.code !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

export function resolverFor(dns: TestDnsServer): DNSResolver {
  const resolver = new dnsPromises.Resolver();
  resolver.setServers([dns.address]);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][]>;
}

export interface ParsedReport {
  contentType: string;
  parts: Array<{ contentType: string; body: string }>;
  headers: string;
}

/** Splits a multipart/report (RFC 6522) into its parts. */
export function parseReport(raw: Buffer): ParsedReport {
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const headers = text.slice(0, split);
  const contentType = /^Content-Type:\s*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/im.exec(headers)?.[1].replace(/\r\n[ \t]/g, ' ') ?? '';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return { contentType, parts: [], headers };
  const body = text.slice(split + 4);
  const parts = body
    .split(`--${boundary}`)
    .slice(1)
    .filter((part) => !part.startsWith('--'))
    .map((part) => {
      const trimmed = part.replace(/^\r\n/, '');
      const end = trimmed.indexOf('\r\n\r\n');
      const partHeaders = trimmed.slice(0, end);
      return { contentType: /^Content-Type:\s*([^;\r\n]+)/im.exec(partHeaders)?.[1].trim() ?? 'text/plain', body: trimmed.slice(end + 4) };
    });
  return { contentType, parts, headers };
}
