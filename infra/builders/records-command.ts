/**
 * The DNS records a relay config needs (`mxkit records`, relay/src/commands/records.ts): the same
 * builder the stack publishes with, fed from the relay config and the files it names (DKIM keys,
 * the MTA-STS policy file). Bundled into the relay CLI, so it never imports @pulumi.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readNamedFile } from '../../relay/src/config/named-file';
import { ConfigError, type RelayConfig } from '../../relay/src/config/schema';
import { buildDeploymentRecords, type DnsRecord } from './records';
import { LETS_ENCRYPT_CAA } from './relay-config';

export interface RecordsOptions {
  ip?: string;
  ip6?: string;
  reportsTo?: string;
}

/** The public half of a DKIM private key file, so the printed record matches what the relay signs with. */
async function dkimPublicKey(field: string, keyFile: string): Promise<string> {
  const pem = await readNamedFile(field, keyFile);
  try {
    return createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new ConfigError(`${field}: ${keyFile} is not a PEM private key`);
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
export async function recordsFor(config: RelayConfig, options: RecordsOptions): Promise<DnsRecord[]> {
  const ipv4 = options.ip ?? (await addressOf(config.hostname));
  const caaIssuers = config.tls?.acme && /(^|\.)letsencrypt\.org$/.test(new URL(config.tls.acme.directoryUrl).hostname) ? [LETS_ENCRYPT_CAA] : [];
  const domains = [];
  for (const domain of config.domains) {
    const dkim = [];
    for (const [index, entry] of config.dkim.entries()) {
      if (entry.domain === domain) dkim.push({ selector: entry.selector, publicKey: await dkimPublicKey(`dkim[${index}].keyFile`, entry.keyFile) });
    }
    // The relay's own report mailboxes for this domain (relay config `reports`), then --reports-to.
    const mailbox = (list: string[] | undefined) => list?.find((address) => address.endsWith(`@${domain}`)) ?? list?.[0];
    const dmarc = mailbox(config.reports?.dmarc);
    const tlsRpt = mailbox(config.reports?.tlsRpt);
    domains.push({ domain, dkim, ...(dmarc && tlsRpt ? { reportMailboxes: { dmarc, tlsRpt } } : {}), reportsTo: options.reportsTo });
  }
  // With a policy file the relay serves a policy listing every host; the announced id is its hash.
  const policyFile = config.mtaSts?.policyFile;
  const mtaStsPolicyText = policyFile === undefined ? undefined : (await readNamedFile('mtaSts.policyFile', policyFile)).toString('utf8');
  const zones = buildDeploymentRecords({
    hosts: [{ hostname: config.hostname, ipv4, ...(options.ip6 ? { ipv6: options.ip6 } : {}) }],
    domains,
    mtaSts: config.mtaSts ? { mode: config.mtaSts.mode, maxAge: config.mtaSts.maxAge } : undefined,
    mtaStsPolicyText,
    caaIssuers,
    submissionPorts: { submission: config.listen.submission?.port, submissions: config.listen.submissions?.port },
  });
  return zones.flatMap((zone) => zone.records);
}
