/**
 * The shape of a deployment in stack config: how many hosts and their names, which mail domains
 * (each in its own Cloudflare zone), and the DKIM selectors every domain publishes. Read once by
 * parseStackConfig (config.ts) through its helpers, so errors name the key like every other one.
 *
 *   mxkit:hosts          number of hosts, 1 (default) to MAX_HOSTS, each in its own availability zone
 *   mxkit:hostname       host 1's name (default mail.<first domain>), or a pattern with {n}
 *   mxkit:domains        [{ "domain", "cloudflareZoneId" }, …]; the first is the primary domain
 *   mxkit:domain + mxkit:cloudflareZoneId   the same for one domain
 *   mxkit:dkimSelectors  ["mx2", "mx1"]: every listed key is published, the first signs
 *   mxkit:dkimSelector   the same for one selector (default mx1)
 */
import { z } from 'zod';
import { hostnamesFor, toALabel } from './builders/names';

/** us-east-1 has six availability zones, the most of any region; each host takes its own. */
export const MAX_HOSTS = 6;

export interface DomainEntry {
  domain: string;
  cloudflareZoneId: string;
  /** Another address for DMARC and TLS-RPT reports besides the relay's own mailboxes (mxkit:reportsTo). */
  reportsTo?: string;
}

export interface DeploymentShape {
  /** Every mail domain, the primary (host names, default report address) first. */
  domains: DomainEntry[];
  /** Host 1's name first. */
  hostnames: string[];
  /** mxkit:hostname as written (a name or a {n} pattern), or mail.<primary domain>. */
  hostnamePattern: string;
  /** Published for every domain; the first signs. */
  dkimSelectors: string[];
}

/** The helpers parseStackConfig reads every key with. */
export interface ConfigReader {
  text(key: string): string | undefined;
  fail(key: string, message: string): void;
  json<T>(key: string, schema: z.ZodType<T>, fallback: T): T;
}

const ZONE_ID = /^[0-9a-f]{32}$/;
const ZONE_ID_HINT = 'must be the 32-hex-digit zone ID from the Cloudflare dashboard';
const SELECTOR = /^[a-z0-9][a-z0-9-]{0,62}$/i;
const domainsSchema = z.array(z.object({ domain: z.string().min(1), cloudflareZoneId: z.string().optional() }).strict()).min(1, 'must list at least one domain');
const selectorsSchema = z.array(z.string().regex(SELECTOR, 'must be a DNS label like mx1')).min(1, 'must list at least one selector');

function aLabel(read: ConfigReader, key: string, value: string): string | undefined {
  try {
    return toALabel(value, key);
  } catch {
    read.fail(key, `must be a DNS name like example.com (got "${value}")`);
    return undefined;
  }
}

function readDomains(read: ConfigReader, reportsTo: string | undefined): DomainEntry[] {
  const listed = read.text('mxkit:domains');
  const entries: Array<{ domain: string; cloudflareZoneId: string; where: string }> = [];
  if (listed !== undefined) {
    for (const key of ['mxkit:domain', 'mxkit:cloudflareZoneId']) {
      if (read.text(key) !== undefined) read.fail(key, 'must not be set with mxkit:domains (list every domain, the primary first, in mxkit:domains)');
    }
    read.json('mxkit:domains', domainsSchema, []).forEach((entry, index) => {
      const where = `mxkit:domains[${index}]`;
      const domain = aLabel(read, `${where}.domain`, entry.domain);
      const zoneId = entry.cloudflareZoneId?.trim();
      if (!zoneId) read.fail(`${where}.cloudflareZoneId`, `is required (the Cloudflare zone that holds ${domain ?? entry.domain})`);
      else if (!ZONE_ID.test(zoneId)) read.fail(`${where}.cloudflareZoneId`, ZONE_ID_HINT);
      if (domain !== undefined) entries.push({ domain, cloudflareZoneId: zoneId ?? '', where });
    });
  } else {
    const text = read.text('mxkit:domain');
    if (text === undefined) read.fail('mxkit:domain', 'is required');
    const zoneId = read.text('mxkit:cloudflareZoneId');
    if (zoneId === undefined) read.fail('mxkit:cloudflareZoneId', 'is required');
    else if (!ZONE_ID.test(zoneId)) read.fail('mxkit:cloudflareZoneId', ZONE_ID_HINT);
    const domain = text === undefined ? undefined : aLabel(read, 'mxkit:domain', text);
    entries.push({ domain: domain ?? 'invalid.example', cloudflareZoneId: zoneId ?? '', where: 'mxkit:domain' });
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.domain)) read.fail(`${entry.where}.domain`, `lists ${entry.domain} a second time`);
    seen.add(entry.domain);
  }
  if (entries.length === 0) entries.push({ domain: 'invalid.example', cloudflareZoneId: '', where: 'mxkit:domains' });
  return entries.map(({ domain, cloudflareZoneId }) => ({ domain, cloudflareZoneId, ...(reportsTo !== undefined ? { reportsTo } : {}) }));
}

function readHostCount(read: ConfigReader): number {
  const text = read.text('mxkit:hosts') ?? '1';
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > MAX_HOSTS) {
    read.fail('mxkit:hosts', `must be a whole number from 1 to ${MAX_HOSTS} (one host per availability zone)`);
    return 1;
  }
  return count;
}

function readSelectors(read: ConfigReader): string[] {
  const single = read.text('mxkit:dkimSelector');
  if (read.text('mxkit:dkimSelectors') === undefined) {
    const selector = single ?? 'mx1';
    if (!SELECTOR.test(selector)) read.fail('mxkit:dkimSelector', 'must be a DNS label like mx1');
    return [selector.toLowerCase()];
  }
  if (single !== undefined) read.fail('mxkit:dkimSelector', 'must not be set with mxkit:dkimSelectors (list every selector there, the signing one first)');
  const selectors = read.json('mxkit:dkimSelectors', selectorsSchema, ['mx1']).map((selector) => selector.toLowerCase());
  selectors.forEach((selector, index) => {
    if (selectors.indexOf(selector) !== index) read.fail(`mxkit:dkimSelectors[${index}]`, `lists ${selector} a second time`);
  });
  return selectors;
}

/** `reportsTo`: mxkit:reportsTo already checked and in A-labels, undefined when not set. */
export function readDeploymentShape(read: ConfigReader, reportsTo: string | undefined): DeploymentShape {
  const domains = readDomains(read, reportsTo);
  const count = readHostCount(read);
  const pattern = read.text('mxkit:hostname') ?? `mail.${domains[0].domain}`;
  let hostnames = [`mail.${domains[0].domain}`];
  try {
    hostnames = hostnamesFor(pattern, count, 'mxkit:hostname');
  } catch {
    read.fail('mxkit:hostname', `must be a DNS name like mail.example.com, or a pattern like mx{n}.example.com (got "${pattern}")`);
  }
  return { domains, hostnames, hostnamePattern: pattern, dkimSelectors: readSelectors(read) };
}
