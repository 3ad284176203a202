/**
 * Every DNS record a mail domain needs, from plain values: one pure function used by the Pulumi
 * program (Cloudflare records), `mxkit records` (zone/JSON) and `mxkit local` (its DNS server).
 * Names are FQDNs in A-labels without the trailing dot; `content` is the presentation form both
 * Cloudflare and a BIND zone take.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { parseDuration } from '../../relay/src/config/duration';
import { toALabel, toAsciiAddress } from './names';
import { sesMailFromValues } from './ses';
import { txtContent } from './txt';

export const DMARC_POLICIES = ['none', 'quarantine', 'reject'] as const;
export type DmarcPolicy = (typeof DMARC_POLICIES)[number];
export type MtaStsMode = 'testing' | 'enforce';

export interface MailRecordsInput {
  domain: string;
  hostname: string;
  ipv4: string;
  ipv6?: string;
  /** Public key as PEM (SPKI or PKCS#1) or as the base64 SPKI DER that goes after `p=`. */
  dkim?: { selector: string; publicKey: string };
  dmarcPolicy?: DmarcPolicy;
  /**
   * The relay's own report mailboxes (relay config `reports`, docs/deliverability.md): DMARC `rua`
   * and TLS-RPT point there first, so `mxkit reports` sees every report.
   */
  reportMailboxes?: { dmarc: string; tlsRpt: string };
  /** Where DMARC aggregate and TLS-RPT reports (also) go; default postmaster@<domain> when there are no report mailboxes. */
  reportsTo?: string;
  mtaSts?: { mode: MtaStsMode; maxAge: string };
  /** CAs allowed to issue for the mail host names (RFC 8659 `issue` values), e.g. letsencrypt.org. */
  caaIssuers?: string[];
  /** SPF `include:` mechanisms, e.g. the smarthost's published SPF domain. */
  spfIncludes?: string[];
  /** Amazon SES's custom MAIL FROM domain (`mxkit:outbound ses`): its MX and SPF records. */
  sesMailFrom?: { domain: string; region: string };
  ttl?: number;
}

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CAA';

/** The relay's report mailboxes for a domain: what the relay config and the records agree on. */
export function defaultReportMailboxes(domain: string): { dmarc: string; tlsRpt: string; complaints: string } {
  const ascii = toALabel(domain, 'domain');
  return { dmarc: `dmarc-reports@${ascii}`, tlsRpt: `tls-reports@${ascii}`, complaints: `abuse@${ascii}` };
}

export interface CaaData {
  flags: number;
  tag: 'issue' | 'issuewild' | 'iodef';
  value: string;
}

export interface DnsRecord {
  /** Stable identity (also the Pulumi resource name suffix), so records never get replaced by reordering. */
  key: string;
  type: RecordType;
  name: string;
  /** The logical value: TXT text unsplit, MX/A target, CAA `flags tag "value"`. */
  value: string;
  /** Presentation form (zone file, Cloudflare `content`): TXT as quoted ≤255-octet strings. */
  content: string;
  priority?: number;
  caa?: CaaData;
  ttl: number;
  /**
   * The name lies outside the domain's own zone (an RFC 7489 7.1 authorisation record at the
   * report address's domain): the domain's DNS component cannot publish it; the owner of that
   * zone must (`mxkit records` prints it).
   */
  external?: boolean;
}

export const DEFAULT_TTL = 3600;
/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
const MTA_STS_MAX_AGE_LIMIT = 31_557_600;

/** `v=spf1 ip4:… [ip6:…] [include:…] -all` — `-all`: only this host (and the smarthost) send for the domain. */
export function spfValue(ipv4: string, ipv6?: string, includes: string[] = []): string {
  const terms = [`ip4:${ipv4}`, ...(ipv6 ? [`ip6:${ipv6}`] : []), ...includes.map((d) => `include:${toALabel(d, 'SPF include')}`)];
  return `v=spf1 ${terms.join(' ')} -all`;
}

/** RFC 7489 §6.3. Relaxed alignment (the default) so that forwarded/SRS mail still aligns. */
export function dmarcValue(policy: DmarcPolicy, reportsTo: string | readonly string[]): string {
  return `v=DMARC1; p=${policy}; rua=${mailtoList(reportsTo)}`;
}

function mailtoList(addresses: string | readonly string[]): string {
  return (typeof addresses === 'string' ? [addresses] : addresses).map((address) => `mailto:${address}`).join(',');
}

/** Report addresses in order, without repeats (compared case-insensitively). */
function reportAddresses(first: string | undefined, also: string | undefined, fallback: string): string[] {
  const list = [first, also].filter((address): address is string => address !== undefined);
  const distinct = list.filter((address, index) => list.findIndex((other) => other.toLowerCase() === address.toLowerCase()) === index);
  return distinct.length > 0 ? distinct : [fallback];
}

/**
 * The `p=` value: base64 of the DER SubjectPublicKeyInfo, what OpenDKIM and every verifier publish
 * and accept for k=rsa (RFC 6376 §3.6.1, and errata 3017 on SPKI vs. RSAPublicKey).
 */
export function dkimPublicKeyBase64(publicKey: string): string {
  if (publicKey.includes('-----BEGIN')) {
    return createPublicKey(publicKey).export({ type: 'spki', format: 'der' }).toString('base64');
  }
  const compact = publicKey.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new Error('DKIM public key is neither PEM nor base64');
  return compact;
}

/** RFC 6376 §3.6.1 key record. */
export function dkimValue(publicKey: string): string {
  return `v=DKIM1; k=rsa; p=${dkimPublicKeyBase64(publicKey)}`;
}

/** RFC 8461 §3.2 policy file, CRLF line endings; served at https://mta-sts.<domain>/.well-known/mta-sts.txt. */
export function mtaStsPolicy(mode: MtaStsMode, mxHosts: string[], maxAge: string): string {
  const seconds = Math.floor(parseDuration(maxAge) / 1000);
  if (seconds < 1 || seconds > MTA_STS_MAX_AGE_LIMIT) throw new Error(`mtaSts maxAge must be between 1s and ${MTA_STS_MAX_AGE_LIMIT}s`);
  const lines = ['version: STSv1', `mode: ${mode}`, ...mxHosts.map((mx) => `mx: ${mx}`), `max_age: ${seconds}`];
  return lines.map((line) => `${line}\r\n`).join('');
}

/**
 * RFC 8461 §3.1: `id` (1–32 alphanumerics) must change whenever the policy changes, so senders
 * refetch it. Derived from the policy text: changes if and only if the policy does.
 */
export function mtaStsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}

function record(key: string, type: RecordType, name: string, value: string, ttl: number, extra: Partial<DnsRecord> = {}): DnsRecord {
  return { key, type, name, value, content: type === 'TXT' ? txtContent(value) : value, ttl, ...extra };
}

export function buildMailRecords(input: MailRecordsInput): DnsRecord[] {
  const domain = toALabel(input.domain, 'domain');
  const hostname = toALabel(input.hostname, 'hostname');
  if (!isIPv4(input.ipv4)) throw new Error(`ipv4 "${input.ipv4}" is not an IPv4 address`);
  if (input.ipv6 !== undefined && !isIPv6(input.ipv6)) throw new Error(`ipv6 "${input.ipv6}" is not an IPv6 address`);
  const ttl = input.ttl ?? DEFAULT_TTL;
  const reportsTo = input.reportsTo === undefined ? undefined : toAsciiAddress(input.reportsTo, 'reportsTo');
  const postmaster = `postmaster@${domain}`;
  const dmarcRua = reportAddresses(input.reportMailboxes && toAsciiAddress(input.reportMailboxes.dmarc, 'reportMailboxes.dmarc'), reportsTo, postmaster);
  const tlsRua = reportAddresses(input.reportMailboxes && toAsciiAddress(input.reportMailboxes.tlsRpt, 'reportMailboxes.tlsRpt'), reportsTo, postmaster);
  const mtaStsHost = `mta-sts.${domain}`;
  const records: DnsRecord[] = [];
  const hostIps = (prefix: string, name: string) => {
    records.push(record(`${prefix}a`, 'A', name, input.ipv4, ttl));
    if (input.ipv6) records.push(record(`${prefix}aaaa`, 'AAAA', name, input.ipv6, ttl));
  };

  hostIps('', hostname);
  records.push(record('mx', 'MX', domain, hostname, ttl, { priority: 10 }));
  records.push(record('spf', 'TXT', domain, spfValue(input.ipv4, input.ipv6, input.spfIncludes), ttl));
  // RFC 7208 §2.3: receivers may check SPF for the HELO name too; publish it unless it is the domain itself.
  if (hostname !== domain) records.push(record('helo-spf', 'TXT', hostname, spfValue(input.ipv4, input.ipv6), ttl));
  if (input.dkim) {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(input.dkim.selector)) throw new Error(`DKIM selector "${input.dkim.selector}" is not a DNS label`);
    records.push(record('dkim', 'TXT', `${input.dkim.selector}._domainkey.${domain}`, dkimValue(input.dkim.publicKey), ttl));
  }
  if (input.sesMailFrom) {
    // docs.aws.amazon.com/ses/latest/dg/mail-from.html: bounces to the MAIL FROM domain go to SES's
    // feedback endpoint, and SPF there authorises SES, so the envelope aligns with the From domain.
    const mailFrom = toALabel(input.sesMailFrom.domain, 'SES MAIL FROM domain');
    if (!mailFrom.endsWith(`.${domain}`) || mailFrom === hostname) throw new Error(`SES MAIL FROM domain "${mailFrom}" must be a subdomain of ${domain} other than ${hostname}`);
    const values = sesMailFromValues(input.sesMailFrom.region);
    records.push(record('ses-mail-from-mx', 'MX', mailFrom, values.mx, ttl, { priority: 10 }));
    records.push(record('ses-mail-from-spf', 'TXT', mailFrom, values.spf, ttl));
  }
  records.push(record('dmarc', 'TXT', `_dmarc.${domain}`, dmarcValue(input.dmarcPolicy ?? 'none', dmarcRua), ttl));
  // RFC 7489 7.1: a report address at another domain receives reports only if that domain says so,
  // with a TXT record "v=DMARC1" at <our domain>._report._dmarc.<its domain>. (A parent or child of
  // our domain shares its Organizational Domain and needs none.) That record lives in the other
  // domain's zone.
  const related = (other: string) => other === domain || other.endsWith(`.${domain}`) || domain.endsWith(`.${other}`);
  const outside = [...new Set(dmarcRua.map((address) => address.slice(address.lastIndexOf('@') + 1).toLowerCase()))].filter((other) => !related(other));
  for (const [index, other] of outside.entries()) {
    records.push(record(`dmarc-report-auth-${index}`, 'TXT', `${domain}._report._dmarc.${other}`, 'v=DMARC1', ttl, { external: true }));
  }
  if (input.mtaSts) {
    const id = mtaStsId(mtaStsPolicy(input.mtaSts.mode, [hostname], input.mtaSts.maxAge));
    records.push(record('mta-sts', 'TXT', `_mta-sts.${domain}`, `v=STSv1; id=${id}`, ttl));
    hostIps('mta-sts-', mtaStsHost);
  }
  // RFC 8460 §3: where sending MTAs report TLS failures (and MTA-STS policy failures).
  records.push(record('tls-rpt', 'TXT', `_smtp._tls.${domain}`, `v=TLSRPTv1; rua=${mailtoList(tlsRua)}`, ttl));
  // RFC 8659 §3: CAA is looked up at the exact name first, then its parents. Publishing it on the
  // mail host names only (not the apex) restricts issuance for those names and leaves the
  // domain's other certificates (website, Cloudflare edge) untouched.
  const caaNames = input.mtaSts ? [hostname, mtaStsHost] : [hostname];
  for (const [index, issuer] of (input.caaIssuers ?? []).entries()) {
    const value = toALabel(issuer, 'CAA issuer');
    for (const name of caaNames) {
      const key = `caa-${name === hostname ? 'host' : 'mta-sts'}-${index}`;
      records.push(record(key, 'CAA', name, `0 issue "${value}"`, ttl, { caa: { flags: 0, tag: 'issue', value } }));
    }
  }
  return records;
}
