/**
 * `mxkit records --config FILE [--ip IP] [--ip6 IP] [--reports-to ADDR] [--format zone|json]`:
 * the DNS records a relay config needs, as a BIND zone fragment or JSON, from the same builder the
 * stack publishes with (infra/builders/records-command.ts).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { readConfigFile } from '../config/load';
import { noMorePositionals, optionalString, requiredString, UsageError, type Command, type ParsedCommandLine, type Print } from './contract';

export const recordsCommand: Command = {
  name: 'records',
  synopsis: 'records --config FILE [--ip IP] [--format zone|json]',
  summary: 'the DNS records the deployment publishes',
  usage: `usage: mxkit records --config FILE [--ip IPV4] [--ip6 IPV6] [--reports-to ADDRESS] [--format zone|json]
  the DNS records the relay config needs (MX, SPF, DKIM from the key files, DMARC, MTA-STS,
  TLS-RPT, CAA); --ip defaults to the address the config's hostname resolves to`,
  options: { config: { type: 'string' }, ip: { type: 'string' }, ip6: { type: 'string' }, 'reports-to': { type: 'string' }, format: { type: 'string' } },
  run: runRecordsCommand,
};

async function runRecordsCommand(args: ParsedCommandLine, print: Print): Promise<number> {
  noMorePositionals(args, 0);
  const configPath = requiredString(args, 'config');
  const format = optionalString(args, 'format') ?? 'zone';
  if (format !== 'zone' && format !== 'json') throw new UsageError('--format must be zone or json');
  const ip = optionalString(args, 'ip');
  const ip6 = optionalString(args, 'ip6');
  if (ip !== undefined && !isIPv4(ip)) throw new UsageError(`--ip ${ip} is not an IPv4 address`);
  if (ip6 !== undefined && !isIPv6(ip6)) throw new UsageError(`--ip6 ${ip6} is not an IPv6 address`);
  // Loaded when run, not at every relay start (docs/architecture.md "What loads at start").
  const [{ recordsFor }, { formatJson, formatZone }] = await Promise.all([import('../../../infra/builders/records-command.js'), import('../../../infra/builders/zone.js')]);
  const records = await recordsFor(await readConfigFile(configPath), { ip, ip6, reportsTo: optionalString(args, 'reports-to') });
  const text = format === 'json' ? formatJson(records) : formatZone(records);
  for (const line of text.replace(/\n$/, '').split('\n')) print(line);
  return 0;
}
