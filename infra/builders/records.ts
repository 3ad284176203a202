/**
 * Every DNS record a mail deployment needs, from plain values: one pure builder used by the Pulumi
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
  /**
   * The host's message submission ports, published as `_submission._tcp` (RFC 6186) and
   * `_submissions._tcp` (RFC 8314 §5.1) SRV records so mail clients find the server from the
   * address alone. Absent: no SRV records (a domain whose host takes no submissions).
   */
  submissionPorts?: SubmissionPorts;
  ttl?: number;
}

export interface SubmissionPorts {
  /** STARTTLS submission (587 in a real deployment). */
  submission?: number;
  /** Implicit-TLS submission (465). */
  submissions?: number;
}

/** What a real stack's hosts listen on (infra/components/host.ts MAIL_PORTS). */
export const STANDARD_SUBMISSION_PORTS: Required<SubmissionPorts> = { submission: 587, submissions: 465 };

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CAA' | 'SRV';

/** RFC 2782 SRV RDATA. */
export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

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
  srv?: SrvData;
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
  return spfForAddresses([ipv4, ...(ipv6 ? [ipv6] : [])], includes);
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

/**
 * One host, one domain: the form `mxkit records` printed first and tests use. The DKIM record keeps
 * its original key `dkim` (one selector); everything else is the deployment builder's.
 */
export function buildMailRecords(input: MailRecordsInput): DnsRecord[] {
  const [zone] = buildDeploymentRecords({
    hosts: [{ hostname: input.hostname, ipv4: input.ipv4, ...(input.ipv6 ? { ipv6: input.ipv6 } : {}) }],
    domains: [{ domain: input.domain, dkim: input.dkim ? [input.dkim] : [], reportMailboxes: input.reportMailboxes, reportsTo: input.reportsTo, sesMailFrom: input.sesMailFrom }],
    dmarcPolicy: input.dmarcPolicy,
    mtaSts: input.mtaSts,
    caaIssuers: input.caaIssuers,
    spfIncludes: input.spfIncludes,
    ...(input.submissionPorts ? { submissionPorts: input.submissionPorts } : {}),
    ttl: input.ttl,
  });
  return zone.records.map((entry) => (entry.key.startsWith('dkim-') ? { ...entry, key: 'dkim' } : entry));
}

export interface HostAddress {
  hostname: string;
  ipv4: string;
  ipv6?: string;
}

export interface DkimPublication {
  selector: string;
  /** PEM (SPKI or PKCS#1) or the base64 SPKI DER that goes after `p=`. */
  publicKey: string;
}

export interface DomainInput {
  domain: string;
  /** Published in this order; the relay signs with the first (records do not depend on the order). */
  dkim?: DkimPublication[];
  /** The relay's own report mailboxes for this domain: DMARC `rua` and TLS-RPT point there first. */
  reportMailboxes?: { dmarc: string; tlsRpt: string };
  /** Where DMARC aggregate and TLS-RPT reports (also) go; default postmaster@<domain> when there are no report mailboxes. */
  reportsTo?: string;
  /** Amazon SES's custom MAIL FROM domain for this domain (`mxkit:outbound ses`): its MX and SPF records. */
  sesMailFrom?: { domain: string; region: string };
}

export interface DeploymentRecordsInput {
  /** Host 1 first: its name is also the submission name. */
  hosts: HostAddress[];
  /** The first domain's zone holds the host records unless a host name falls in another of them. */
  domains: DomainInput[];
  dmarcPolicy?: DmarcPolicy;
  mtaSts?: { mode: MtaStsMode; maxAge: string };
  /** The exact policy text the hosts serve, when it is known (a relay's mtaSts.policyFile); default: built from `hosts`. */
  mtaStsPolicyText?: string;
  caaIssuers?: string[];
  /** SPF `include:` mechanisms (a smarthost's SPF domain). */
  spfIncludes?: string[];
  /** Submission ports for every domain's SRV records, which name the submission name (host 1's). */
  submissionPorts?: SubmissionPorts;
  ttl?: number;
}

export interface ZoneRecords {
  /** The mail domain whose zone these records go into. */
  domain: string;
  records: DnsRecord[];
}

const SELECTOR = /^[a-z0-9][a-z0-9._-]*$/i;

/** `v=spf1 ip4:… ip6:… include:… -all` for every address given, in order, each once. */
export function spfForAddresses(addresses: string[], includes: string[] = []): string {
  const terms = [...new Set(addresses)].map((address) => (isIPv4(address) ? `ip4:${address}` : `ip6:${address}`));
  return `v=spf1 ${[...terms, ...includes.map((domain) => `include:${toALabel(domain, 'SPF include')}`)].join(' ')} -all`;
}

/** Keys of host n: host 1 keeps the single-host keys (`a`), the others carry their number (`a-2`). */
function hostKey(base: string, number: number): string {
  return number === 1 ? base : `${base}-${number}`;
}

/** The domain of ours whose zone holds `name` (the longest one it falls under), else the first. */
export function zoneOf(name: string, domains: readonly string[]): string {
  const candidates = domains.filter((domain) => name === domain || name.endsWith(`.${domain}`));
  return candidates.sort((a, b) => b.length - a.length)[0] ?? domains[0];
}

function checkedHosts(hosts: HostAddress[]): HostAddress[] {
  if (hosts.length === 0) throw new Error('at least one host is needed');
  const seen = new Set<string>();
  return hosts.map((host, index) => {
    const hostname = toALabel(host.hostname, `hosts[${index}].hostname`);
    if (seen.has(hostname)) throw new Error(`host name ${hostname} is used by two hosts`);
    seen.add(hostname);
    if (!isIPv4(host.ipv4)) throw new Error(`ipv4 "${host.ipv4}" is not an IPv4 address`);
    if (host.ipv6 !== undefined && !isIPv6(host.ipv6)) throw new Error(`ipv6 "${host.ipv6}" is not an IPv6 address`);
    return { hostname, ipv4: host.ipv4, ...(host.ipv6 ? { ipv6: host.ipv6 } : {}) };
  });
}

/** The MTA-STS policy every host serves (RFC 8461 §3.2): one `mx:` line per host. */
export function deploymentMtaStsPolicy(mtaSts: { mode: MtaStsMode; maxAge: string }, hostnames: string[]): string {
  return mtaStsPolicy(mtaSts.mode, hostnames.map((name) => toALabel(name, 'hostname')), mtaSts.maxAge);
}

/**
 * Every DNS record of a whole deployment — several hosts, several mail domains, several DKIM keys
 * per domain — grouped by the zone each goes into (the Pulumi program has one Cloudflare zone per
 * domain).
 *
 * What each zone gets (the RFCs are cited beside the values above):
 *  - every domain: one MX per host at equal preference (RFC 5321 §5.1: senders pick among equal
 *    preferences at random, and try the next host when one cannot be reached), SPF listing every
 *    host's address, one DKIM key record per selector, DMARC, TLS-RPT, and with MTA-STS the
 *    `_mta-sts` TXT (its id hashes the one policy every host serves, listing every MX name) and
 *    `mta-sts.<domain>` with every host's address;
 *  - the zone holding the host names: each host's A/AAAA record (its PTR points back at it), its
 *    HELO SPF record and CAA; the submission name (host 1's name, the one mail clients use) also
 *    gets every other host's address, so clients reach whichever host is up.
 *
 * Record keys are stable identities (the Cloudflare resource names): host 1 keeps the keys a
 * single-host stack always had, later hosts add keys with their number, DKIM keys are keyed by
 * selector, so adding a host or a selector never renames or replaces an existing record.
 */
export function buildDeploymentRecords(input: DeploymentRecordsInput): ZoneRecords[] {
  const hosts = checkedHosts(input.hosts);
  if (input.domains.length === 0) throw new Error('at least one mail domain is needed');
  const domainNames = input.domains.map((entry) => toALabel(entry.domain, 'domain'));
  if (new Set(domainNames).size !== domainNames.length) throw new Error(`a mail domain is listed twice: ${domainNames.join(', ')}`);
  const ttl = input.ttl ?? DEFAULT_TTL;
  const zones = new Map<string, DnsRecord[]>(domainNames.map((domain) => [domain, []]));
  const add = (zoneName: string, entry: DnsRecord) => (zones.get(zoneName) as DnsRecord[]).push(entry);
  const addresses = (prefix: string, name: string, host: HostAddress, number: number, zoneName: string) => {
    add(zoneName, record(hostKey(`${prefix}a`, number), 'A', name, host.ipv4, ttl));
    if (host.ipv6) add(zoneName, record(hostKey(`${prefix}aaaa`, number), 'AAAA', name, host.ipv6, ttl));
  };
  const caaValues = (input.caaIssuers ?? []).map((issuer) => toALabel(issuer, 'CAA issuer'));
  const caa = (zoneName: string, key: (index: number) => string, name: string) =>
    caaValues.forEach((value, index) => add(zoneName, record(key(index), 'CAA', name, `0 issue "${value}"`, ttl, { caa: { flags: 0, tag: 'issue', value } })));

  // The hosts: address, HELO SPF (RFC 7208 §2.3: receivers may check the HELO name), CAA (RFC 8659:
  // on the host names only, never the apex, so the domain's other certificates are not affected).
  const submissionName = hosts[0].hostname;
  hosts.forEach((host, index) => {
    const number = index + 1;
    const zoneName = zoneOf(host.hostname, domainNames);
    addresses('', host.hostname, host, number, zoneName);
    if (number > 1) addresses('submission-', submissionName, host, number, zoneOf(submissionName, domainNames));
    if (!domainNames.includes(host.hostname)) add(zoneName, record(hostKey('helo-spf', number), 'TXT', host.hostname, spfForAddresses([host.ipv4, ...(host.ipv6 ? [host.ipv6] : [])]), ttl));
    caa(zoneName, (i) => (number === 1 ? `caa-host-${i}` : `caa-host-${number}-${i}`), host.hostname);
  });

  const everyAddress = hosts.flatMap((host) => [host.ipv4, ...(host.ipv6 ? [host.ipv6] : [])]);
  const policy = input.mtaSts ? (input.mtaStsPolicyText ?? deploymentMtaStsPolicy(input.mtaSts, hosts.map((host) => host.hostname))) : undefined;
  input.domains.forEach((entry, index) => {
    const domain = domainNames[index];
    const reportsTo = entry.reportsTo === undefined ? undefined : toAsciiAddress(entry.reportsTo, 'reportsTo');
    const mailboxes = entry.reportMailboxes;
    const dmarcRua = reportAddresses(mailboxes && toAsciiAddress(mailboxes.dmarc, 'reportMailboxes.dmarc'), reportsTo, `postmaster@${domain}`);
    const tlsRua = reportAddresses(mailboxes && toAsciiAddress(mailboxes.tlsRpt, 'reportMailboxes.tlsRpt'), reportsTo, `postmaster@${domain}`);
    hosts.forEach((host, hostIndex) => add(domain, record(hostKey('mx', hostIndex + 1), 'MX', domain, host.hostname, ttl, { priority: 10 })));
    add(domain, record('spf', 'TXT', domain, spfForAddresses(everyAddress, input.spfIncludes), ttl));
    const selectors = new Set<string>();
    for (const key of entry.dkim ?? []) {
      if (!SELECTOR.test(key.selector)) throw new Error(`DKIM selector "${key.selector}" is not a DNS label`);
      const selector = key.selector.toLowerCase();
      if (selectors.has(selector)) throw new Error(`DKIM selector ${selector} is listed twice for ${domain}`);
      selectors.add(selector);
      add(domain, record(`dkim-${selector}`, 'TXT', `${selector}._domainkey.${domain}`, dkimValue(key.publicKey), ttl));
    }
    if (entry.sesMailFrom) {
      // docs.aws.amazon.com/ses/latest/dg/mail-from.html: bounces to the MAIL FROM domain go to SES's
      // feedback endpoint, and SPF there authorises SES, so the envelope aligns with the From domain.
      const mailFrom = toALabel(entry.sesMailFrom.domain, 'SES MAIL FROM domain');
      if (!mailFrom.endsWith(`.${domain}`) || hosts.some((host) => host.hostname === mailFrom)) {
        throw new Error(`SES MAIL FROM domain "${mailFrom}" must be a subdomain of ${domain} other than ${hosts.map((host) => host.hostname).join(', ')}`);
      }
      const values = sesMailFromValues(entry.sesMailFrom.region);
      add(domain, record('ses-mail-from-mx', 'MX', mailFrom, values.mx, ttl, { priority: 10 }));
      add(domain, record('ses-mail-from-spf', 'TXT', mailFrom, values.spf, ttl));
    }
    add(domain, record('dmarc', 'TXT', `_dmarc.${domain}`, dmarcValue(input.dmarcPolicy ?? 'none', dmarcRua), ttl));
    // RFC 7489 §7.1: a report address at another domain receives reports only if that domain says
    // so, with a TXT record "v=DMARC1" at <our domain>._report._dmarc.<its domain> (a parent or child
    // of our domain shares its Organizational Domain and needs none). When that domain is one of
    // ours, its zone publishes the record; otherwise its owner must (`mxkit records` prints it).
    const related = (other: string) => other === domain || other.endsWith(`.${domain}`) || domain.endsWith(`.${other}`);
    const outside = [...new Set(dmarcRua.map((address) => address.slice(address.lastIndexOf('@') + 1).toLowerCase()))].filter((other) => !related(other));
    outside
      .filter((other) => zones.has(other))
      .forEach((other) => add(other, record(`dmarc-report-${domain}`, 'TXT', `${domain}._report._dmarc.${other}`, 'v=DMARC1', ttl)));
    outside
      .filter((other) => !zones.has(other))
      .forEach((other, index) => add(domain, record(`dmarc-report-auth-${index}`, 'TXT', `${domain}._report._dmarc.${other}`, 'v=DMARC1', ttl, { external: true })));
    if (policy !== undefined) {
      add(domain, record('mta-sts', 'TXT', `_mta-sts.${domain}`, `v=STSv1; id=${mtaStsId(policy)}`, ttl));
      // Every host serves the policy, so a sender fetching it reaches whichever host is up.
      hosts.forEach((host, hostIndex) => addresses('mta-sts-', `mta-sts.${domain}`, host, hostIndex + 1, domain));
      caa(domain, (i) => `caa-mta-sts-${i}`, `mta-sts.${domain}`);
    }
    // RFC 8460 §3: where sending MTAs report TLS failures (and MTA-STS policy failures).
    add(domain, record('tls-rpt', 'TXT', `_smtp._tls.${domain}`, `v=TLSRPTv1; rua=${mailtoList(tlsRua)}`, ttl));
    for (const srv of submissionSrvRecords(domain, submissionName, input.submissionPorts, ttl)) add(domain, srv);
  });
  return domainNames.map((domain) => ({ domain, records: zones.get(domain) as DnsRecord[] }));
}

/**
 * RFC 6186 §3.1 and RFC 8314 §5.1: `_submissions._tcp` (implicit TLS) and `_submission._tcp`
 * (STARTTLS), both pointing at the submission name (host 1's, which holds every host's address).
 * Each name holds one record, so priority 0 and weight 1 as in RFC 6186's examples; clients that
 * know both prefer `_submissions` (RFC 8314 §5.1). A port of 0 (a test listener not yet bound)
 * publishes nothing.
 */
export function submissionSrvRecords(domain: string, hostname: string, ports: SubmissionPorts | undefined, ttl: number): DnsRecord[] {
  if (!ports) return [];
  const services: Array<[string, number | undefined]> = [
    ['submissions', ports.submissions],
    ['submission', ports.submission],
  ];
  return services
    .filter((entry): entry is [string, number] => entry[1] !== undefined && entry[1] > 0)
    .map(([service, port]) => {
      if (!Number.isInteger(port) || port > 65535) throw new Error(`${service} port ${port} is not a TCP port`);
      const srv: SrvData = { priority: 0, weight: 1, port, target: hostname };
      return record(`srv-${service}`, 'SRV', `_${service}._tcp.${domain}`, `${srv.priority} ${srv.weight} ${srv.port} ${srv.target}`, ttl, { srv });
    });
}
