/**
 * `mxkit records --config FILE [--ip IP] [--ip6 IP] [--reports-to ADDR] [--format zone|json]`:
 * the DNS records a relay config needs, as a BIND zone fragment or JSON. Bundled into the relay
 * CLI, so it never imports @pulumi. Returns an exit code; errors are one line.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { parseRelayConfig, type RelayConfig } from '../../relay/src/config/schema';
import { buildDeploymentRecords, type DnsRecord } from './records';
import { LETS_ENCRYPT_CAA } from './relay-config';
import { formatJson, formatZone } from './zone';

const USAGE = 'usage: mxkit records --config FILE [--ip IPV4] [--ip6 IPV6] [--reports-to ADDRESS] [--format zone|json]';

interface RecordsOptions {
  config: string;
  ip?: string;
  ip6?: string;
  reportsTo?: string;
  format: 'zone' | 'json';
}

class UsageError extends Error {}

function parseArgs(args: string[]): RecordsOptions {
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 1) {
    const flag = args[i];
    const [name, inline] = flag.startsWith('--') ? flag.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (!name || !['config', 'ip', 'ip6', 'reports-to', 'format'].includes(name)) throw new UsageError(`unknown argument ${flag}`);
    const value = inline ?? args[(i += 1)];
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
    values[name] = value;
  }
  if (!values.config) throw new UsageError('--config is required');
  const format = values.format ?? 'zone';
  if (format !== 'zone' && format !== 'json') throw new UsageError('--format must be zone or json');
  if (values.ip !== undefined && !isIPv4(values.ip)) throw new UsageError(`--ip ${values.ip} is not an IPv4 address`);
  if (values.ip6 !== undefined && !isIPv6(values.ip6)) throw new UsageError(`--ip6 ${values.ip6} is not an IPv6 address`);
  return { config: values.config, ip: values.ip, ip6: values.ip6, reportsTo: values['reports-to'], format };
}

async function loadConfig(path: string): Promise<RelayConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  return parseRelayConfig(document);
}

/** The public half of a DKIM private key file, so the printed record matches what the relay signs with. */
async function dkimPublicKey(keyFile: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (error) {
    throw new Error(`cannot read DKIM key ${keyFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new Error(`DKIM key ${keyFile} is not a PEM private key`);
  }
}

async function addressOf(hostname: string): Promise<string> {
  try {
    return (await lookup(hostname, { family: 4 })).address;
  } catch {
    throw new Error(`cannot resolve ${hostname}; pass --ip with the relay's public IPv4 address`);
  }
}

/**
 * This relay's records: its own host, every domain it serves with every DKIM key listed for it
 * (the signing key and the ones kept published during a rotation). Several hosts' records come
 * from the deployment (`pulumi stack output records`), not from one host's config.
 */
async function recordsFor(config: RelayConfig, options: RecordsOptions): Promise<DnsRecord[]> {
  const ipv4 = options.ip ?? (await addressOf(config.hostname));
  const caaIssuers = config.tls?.acme && /(^|\.)letsencrypt\.org$/.test(new URL(config.tls.acme.directoryUrl).hostname) ? [LETS_ENCRYPT_CAA] : [];
  const domains = [];
  for (const domain of config.domains) {
    const dkim = [];
    for (const entry of config.dkim.filter((key) => key.domain === domain)) dkim.push({ selector: entry.selector, publicKey: await dkimPublicKey(entry.keyFile) });
    // The relay's own report mailboxes for this domain (relay config `reports`), then --reports-to.
    const mailbox = (list: string[] | undefined) => list?.find((address) => address.endsWith(`@${domain}`)) ?? list?.[0];
    const dmarc = mailbox(config.reports?.dmarc);
    const tlsRpt = mailbox(config.reports?.tlsRpt);
    domains.push({ domain, dkim, ...(dmarc && tlsRpt ? { reportMailboxes: { dmarc, tlsRpt } } : {}), reportsTo: options.reportsTo });
  }
  // With a policy file the relay serves a policy listing every host; the announced id is its hash.
  const policyFile = config.mtaSts?.policyFile;
  const mtaStsPolicyText = policyFile === undefined ? undefined : await readFile(policyFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read mtaSts.policyFile ${policyFile}: ${error.code ?? String(error)}`);
  });
  const zones = buildDeploymentRecords({
    hosts: [{ hostname: config.hostname, ipv4, ...(options.ip6 ? { ipv6: options.ip6 } : {}) }],
    domains,
    mtaSts: config.mtaSts ? { mode: config.mtaSts.mode, maxAge: config.mtaSts.maxAge } : undefined,
    mtaStsPolicyText,
    caaIssuers,
  });
  return zones.flatMap((zone) => zone.records);
}

export async function runRecordsCommand(args: string[], print: (line: string) => void): Promise<number> {
  let options: RecordsOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    print(`mxkit records: ${(error as Error).message} (${USAGE})`);
    return 2;
  }
  try {
    const records = await recordsFor(await loadConfig(options.config), options);
    const text = options.format === 'json' ? formatJson(records) : formatZone(records);
    for (const line of text.replace(/\n$/, '').split('\n')) print(line);
    return 0;
  } catch (error) {
    print(`mxkit records: ${(error as Error).message}`);
    return 1;
  }
}
