/**
 * DNS checks: what a receiving MTA looks up before it trusts our mail. Each function returns one
 * or more results; none throws for a DNS problem (a problem is a result, with its fix).
 */
import { createPublicKey } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { spf } from 'mailauth/lib/spf';
import { normaliseName, type DnsClient, type Lookup } from './dns-client';
import { fail, pass, warn, type CheckResult } from './types';

const cannotAsk = (what: string, lookup: { message: string }, dns: DnsClient) =>
  `could not look up ${what}: ${lookup.message} from ${dns.servers}`;

/** MX: the domain's mail goes to the host. Also decides the host when --host is not given. */
export async function checkMx(dns: DnsClient, domain: string, host: string | undefined): Promise<{ result: CheckResult; host: string; mxHosts: string[] }> {
  const found = await dns.mx(domain);
  const fallback = host ?? `mail.${domain}`;
  if (found.kind === 'error') return { result: fail('dns.mx', 'dns', cannotAsk(`MX of ${domain}`, found, dns), `make sure ${domain} is served by the DNS server asked`), host: fallback, mxHosts: [] };
  if (found.kind === 'absent') {
    return { result: fail('dns.mx', 'dns', `${domain} has no MX record`, `publish "MX 10 ${fallback}" for ${domain}: pulumi up creates it`), host: fallback, mxHosts: [] };
  }
  const ordered = [...found.records].sort((a, b) => a.priority - b.priority);
  const mxHosts = ordered.map((mx) => normaliseName(mx.exchange));
  // RFC 7505: a single "." MX means the domain accepts no mail at all.
  if (mxHosts.length === 1 && mxHosts[0] === '') {
    return { result: fail('dns.mx', 'dns', `${domain} publishes a null MX (accepts no mail)`, `replace the null MX with "MX 10 ${fallback}"`), host: fallback, mxHosts: [] };
  }
  const chosen = host ? normaliseName(host) : mxHosts[0];
  if (!mxHosts.includes(chosen)) {
    return { result: fail('dns.mx', 'dns', `MX of ${domain} is ${mxHosts.join(', ')}, not ${chosen}`, `set the MX of ${domain} to ${chosen}: pulumi up manages it`), host: chosen, mxHosts };
  }
  return { result: pass('dns.mx', 'dns', `MX of ${domain} is ${mxHosts.join(', ')}`), host: chosen, mxHosts };
}

/** A and AAAA of the host: the addresses every other check (PTR, SPF, ports, blocklists) is about. */
export async function checkHostAddresses(dns: DnsClient, host: string): Promise<{ results: CheckResult[]; addresses: string[] }> {
  const [v4, v6] = await Promise.all([dns.a(host), dns.aaaa(host)]);
  const addresses = [...(v4.kind === 'found' ? v4.records : []), ...(v6.kind === 'found' ? v6.records : [])];
  const results: CheckResult[] = [];
  if (v4.kind === 'found') results.push(pass('dns.a', 'dns', `${host} has A ${v4.records.join(', ')}`));
  else if (v4.kind === 'absent') results.push(fail('dns.a', 'dns', `${host} has no A record`, `publish an A record for ${host} with the Elastic IP: pulumi up creates it`));
  else results.push(fail('dns.a', 'dns', cannotAsk(`A of ${host}`, v4, dns), `make sure ${host} is served by the DNS server asked`));
  // AAAA is optional (the stack is IPv4-only by default); report it only when it exists or errs.
  if (v6.kind === 'found') results.push(pass('dns.aaaa', 'dns', `${host} has AAAA ${v6.records.join(', ')}`));
  else if (v6.kind === 'error') results.push(warn('dns.aaaa', 'dns', cannotAsk(`AAAA of ${host}`, v6, dns), `make sure ${host} is served by the DNS server asked`));
  return { results, addresses };
}

/**
 * PTR, forward-confirmed: the address's PTR is the host and the host resolves back to the address.
 * Large receivers refuse or spam-folder mail from addresses without a matching PTR.
 */
export async function checkPtr(dns: DnsClient, host: string, address: string): Promise<CheckResult> {
  const id = `dns.ptr.${address}`;
  const fix = `set PTR of ${address} to ${host}: pulumi up sets it once the A record exists`;
  const found = await dns.ptr(address);
  if (found.kind === 'error') return fail(id, 'dns', cannotAsk(`PTR of ${address}`, found, dns), fix);
  if (found.kind === 'absent') return fail(id, 'dns', `${address} has no PTR record`, fix);
  const names = found.records.map(normaliseName);
  if (names.includes(host)) return pass(id, 'dns', `PTR of ${address} is ${host} (forward-confirmed)`);
  // Several hosts: the submission name holds every host's address, and each address points back
  // at its own host's name. What receivers check is that the PTR name resolves back to the address
  // (forward-confirmed reverse DNS, RFC 8601 §3 "iprev").
  for (const name of names) {
    const back = await (isIPv4(address) ? dns.a(name) : dns.aaaa(name));
    if (back.kind === 'found' && back.records.includes(address)) return pass(id, 'dns', `PTR of ${address} is ${name}, which resolves back to it (forward-confirmed; another host of ${host})`);
  }
  return fail(id, 'dns', `PTR of ${address} is ${names.join(', ')}, not ${host}`, fix);
}

/** Tags of a `tag=value; tag=value` record (DKIM RFC 6376 §3.2, DMARC RFC 7489 §6.4, TLS-RPT RFC 8460 §3). */
export function parseTags(record: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const index = part.indexOf('=');
    if (index > 0) tags.set(part.slice(0, index).trim().toLowerCase(), part.slice(index + 1).trim());
  }
  return tags;
}

function recordsWithPrefix(found: Lookup<string>, prefix: RegExp): string[] {
  return found.kind === 'found' ? found.records.filter((record) => prefix.test(record)) : [];
}

/**
 * SPF (RFC 7208): exactly one `v=spf1` record, ending in `-all` or `~all` so that other senders
 * do not pass, and evaluating to pass for each of the host's addresses (mailauth follows includes
 * and redirects with the same DNS server).
 */
export async function checkSpf(dns: DnsClient, domain: string, host: string, addresses: string[]): Promise<CheckResult[]> {
  const found = await dns.txt(domain);
  const addFix = (address: string) => `add ${address.includes(':') ? 'ip6' : 'ip4'}:${address} to the SPF record of ${domain} (before the "all"): pulumi up publishes it`;
  if (found.kind === 'error') return [fail('dns.spf', 'dns', cannotAsk(`TXT of ${domain}`, found, dns), `make sure ${domain} is served by the DNS server asked`)];
  const records = recordsWithPrefix(found, /^v=spf1(\s|$)/i);
  const terms = addresses.length ? addresses.map((a) => `${a.includes(':') ? 'ip6' : 'ip4'}:${a}`).join(' ') : 'ip4:<host address>';
  const publish = `publish TXT "v=spf1 ${terms} -all" at ${domain}: pulumi up creates it`;
  if (records.length === 0) return [fail('dns.spf', 'dns', `${domain} has no SPF record`, publish)];
  // RFC 7208 §4.5: more than one SPF record is a permerror, as bad as none.
  if (records.length > 1) return [fail('dns.spf', 'dns', `${domain} has ${records.length} SPF records`, 'merge them into one v=spf1 record')];
  const record = records[0];
  const mechanisms = record.trim().split(/\s+/);
  const all = mechanisms.find((term) => /^[-~?+]?all$/i.test(term));
  const results: CheckResult[] = [];
  if (all === undefined && !mechanisms.some((term) => /^redirect=/i.test(term))) {
    results.push(fail('dns.spf', 'dns', `SPF of ${domain} has no "all": anyone may claim to send for it`, `end the SPF record of ${domain} with -all`));
  } else if (all !== undefined && !/^[-~]all$/i.test(all)) {
    results.push(fail('dns.spf', 'dns', `SPF of ${domain} ends in ${all}: anyone may claim to send for it`, `end the SPF record of ${domain} with -all instead of ${all}`));
  } else {
    results.push(pass('dns.spf', 'dns', `SPF of ${domain}: ${record}`));
  }
  for (const address of addresses) {
    const id = `dns.spf.${address}`;
    try {
      const verdict = await spf({ sender: `postmaster@${domain}`, ip: address, helo: host, mta: host, resolver: dns.mailauth });
      const outcome = verdict.status.result;
      if (outcome === 'pass') results.push(pass(id, 'dns', `SPF authorises ${address} to send for ${domain}`));
      else results.push(fail(id, 'dns', `SPF gives ${outcome} for ${address}${verdict.status.comment ? ` (${verdict.status.comment})` : ''}`, addFix(address)));
    } catch (error) {
      results.push(fail(id, 'dns', `SPF evaluation for ${address} failed: ${error instanceof Error ? error.message : String(error)}`, addFix(address)));
    }
  }
  return results;
}

/** Key size of a DKIM `p=` value: SPKI DER (what everyone publishes) or bare RSAPublicKey (RFC 6376 errata 3017). */
function keyBits(base64: string): number | undefined {
  const der = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      const key = createPublicKey({ key: der, format: 'der', type });
      return key.asymmetricKeyDetails?.modulusLength;
    } catch {
      // try the other encoding
    }
  }
  return undefined;
}

/**
 * DKIM (RFC 6376 §3.6.1): the key record at <selector>._domainkey.<domain> parses, and an RSA key
 * has at least 2048 bits (RFC 8301 §3.2: verifiers must reject keys under 1024 bits, and 1024 is
 * within reach of factoring; Ed25519 keys (RFC 8463) are fine at 256).
 */
export async function checkDkim(dns: DnsClient, domain: string, selector: string): Promise<CheckResult> {
  const name = `${selector}._domainkey.${domain}`;
  const publish = `publish the DKIM key at ${name} (\`mxkit records\` prints it; pulumi up creates it), or pass the selector in use with --selector`;
  const found = await dns.txt(name);
  if (found.kind === 'error') return fail('dns.dkim', 'dns', cannotAsk(`TXT of ${name}`, found, dns), publish);
  if (found.kind === 'absent') return fail('dns.dkim', 'dns', `no DKIM record at ${name}`, publish);
  const tags = parseTags(found.records.join(''));
  if (tags.has('v') && tags.get('v') !== 'DKIM1') return fail('dns.dkim', 'dns', `DKIM record at ${name} has v=${tags.get('v')}, not DKIM1`, publish);
  const p = tags.get('p');
  if (p === undefined) return fail('dns.dkim', 'dns', `DKIM record at ${name} has no p= key`, publish);
  // RFC 6376 §3.6.1: an empty p= means the key was revoked.
  if (p === '') return fail('dns.dkim', 'dns', `DKIM key at ${name} is revoked (empty p=)`, publish);
  const algorithm = (tags.get('k') ?? 'rsa').toLowerCase();
  if (algorithm === 'ed25519') return pass('dns.dkim', 'dns', `DKIM key at ${name}: ed25519`);
  const bits = keyBits(p);
  if (bits === undefined) return fail('dns.dkim', 'dns', `DKIM key at ${name} does not parse as an ${algorithm} public key`, publish);
  const rotate = `rotate to a 2048-bit key: mxkit:dkimSelectors, one pulumi up per step (docs/deploy.md "DKIM key rotation")`;
  if (bits < 1024) return fail('dns.dkim', 'dns', `DKIM key at ${name} has only ${bits} bits (receivers ignore it)`, rotate);
  if (bits < 2048) return warn('dns.dkim', 'dns', `DKIM key at ${name} has ${bits} bits`, rotate);
  return pass('dns.dkim', 'dns', `DKIM key at ${name}: ${algorithm} ${bits} bits`);
}

/** DMARC (RFC 7489 §6.6.3): exactly one v=DMARC1 record at _dmarc.<domain> with a valid p=. */
export async function checkDmarc(dns: DnsClient, domain: string): Promise<CheckResult> {
  const name = `_dmarc.${domain}`;
  const publish = `publish TXT "v=DMARC1; p=none; rua=mailto:postmaster@${domain}" at ${name} (mxkit:dmarcPolicy; pulumi up creates it)`;
  const found = await dns.txt(name);
  if (found.kind === 'error') return fail('dns.dmarc', 'dns', cannotAsk(`TXT of ${name}`, found, dns), publish);
  const records = recordsWithPrefix(found, /^v=DMARC1\s*(;|$)/i);
  if (records.length === 0) return fail('dns.dmarc', 'dns', `no DMARC record at ${name}`, publish);
  if (records.length > 1) return fail('dns.dmarc', 'dns', `${records.length} DMARC records at ${name}: receivers ignore them all`, 'keep exactly one v=DMARC1 record');
  const policy = parseTags(records[0]).get('p')?.toLowerCase();
  if (policy !== 'none' && policy !== 'quarantine' && policy !== 'reject') {
    return fail('dns.dmarc', 'dns', `DMARC record at ${name} has ${policy === undefined ? 'no p=' : `p=${policy}`}`, 'set p=none, p=quarantine or p=reject');
  }
  const note = policy === 'none' ? ' (monitoring only; move to quarantine once reports are clean)' : '';
  return pass('dns.dmarc', 'dns', `DMARC policy of ${domain}: p=${policy}${note}`);
}

/** TLS-RPT (RFC 8460 §3): where senders report TLS and MTA-STS failures. Optional, so a warn. */
export async function checkTlsRpt(dns: DnsClient, domain: string): Promise<CheckResult> {
  const name = `_smtp._tls.${domain}`;
  const publish = `publish TXT "v=TLSRPTv1; rua=mailto:postmaster@${domain}" at ${name}: pulumi up creates it`;
  const found = await dns.txt(name);
  if (found.kind === 'error') return warn('dns.tls-rpt', 'dns', cannotAsk(`TXT of ${name}`, found, dns), publish);
  const records = recordsWithPrefix(found, /^v=TLSRPTv1\s*(;|$)/i);
  if (records.length !== 1) return warn('dns.tls-rpt', 'dns', records.length === 0 ? `no TLS-RPT record at ${name}` : `${records.length} TLS-RPT records at ${name}`, publish);
  const rua = parseTags(records[0]).get('rua');
  if (!rua) return warn('dns.tls-rpt', 'dns', `TLS-RPT record at ${name} has no rua=`, publish);
  return pass('dns.tls-rpt', 'dns', `TLS reports for ${domain} go to ${rua}`);
}

/**
 * CAA (RFC 8659 §3): the relevant record set is the first one found climbing from the host to its
 * parents. Without one any CA may issue for the host, so a warn, not a fail.
 */
export async function checkCaa(dns: DnsClient, host: string): Promise<CheckResult> {
  const fix = `publish CAA 0 issue "letsencrypt.org" at ${host} (with mxkit:tls acme, pulumi up does)`;
  const labels = host.split('.');
  // Stop above the registrable part: a TLD never carries CAA for us.
  for (let index = 0; index < labels.length - 1; index++) {
    const name = labels.slice(index).join('.');
    const found = await dns.caa(name);
    if (found.kind === 'error') return warn('dns.caa', 'dns', cannotAsk(`CAA of ${name}`, found, dns), fix);
    if (found.kind === 'absent') continue;
    const issuers = found.records.flatMap((record) => (record.issue !== undefined ? [record.issue || '";" (none)'] : []));
    if (issuers.length === 0) return warn('dns.caa', 'dns', `CAA at ${name} has no issue property`, fix);
    return pass('dns.caa', 'dns', `CAA at ${name} allows ${issuers.join(', ')}`);
  }
  return warn('dns.caa', 'dns', `no CAA record for ${host} or its parents: any CA may issue for it`, fix);
}
