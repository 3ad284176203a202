import { generateKeyPairSync } from 'node:crypto';
import {
  buildMailRecords,
  dkimPublicKeyBase64,
  dmarcValue,
  mtaStsId,
  mtaStsPolicy,
  spfValue,
  type DnsRecord,
  type MailRecordsInput,
} from '../../infra/builders/records';
import { splitTxt, txtContent } from '../../infra/builders/txt';
import { formatJson, formatZone } from '../../infra/builders/zone';
import { toALabel, toAsciiAddress } from '../../infra/builders/names';

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const spkiBase64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const base: MailRecordsInput = {
  domain: 'example.com',
  hostname: 'mail.example.com',
  ipv4: '203.0.113.10',
  dkim: { selector: 'mx1', publicKey: publicPem },
  dmarcPolicy: 'quarantine',
  reportsTo: 'dmarc@example.com',
};
const find = (records: DnsRecord[], key: string) => {
  const found = records.find((r) => r.key === key);
  if (!found) throw new Error(`no ${key} record`);
  return found;
};

describe('mail DNS records', () => {
  test('point MX at the host name and the host name at the IPv4 address', () => {
    const records = buildMailRecords(base);
    expect(find(records, 'mx')).toMatchObject({ type: 'MX', name: 'example.com', value: 'mail.example.com', priority: 10 });
    expect(find(records, 'a')).toMatchObject({ type: 'A', name: 'mail.example.com', content: '203.0.113.10' });
    expect(records.some((r) => r.type === 'AAAA')).toBe(false);
  });

  test('add AAAA and ip6: when an IPv6 address is given', () => {
    const records = buildMailRecords({ ...base, ipv6: '2001:db8::25' });
    expect(find(records, 'aaaa')).toMatchObject({ type: 'AAAA', name: 'mail.example.com', content: '2001:db8::25' });
    expect(find(records, 'spf').value).toBe('v=spf1 ip4:203.0.113.10 ip6:2001:db8::25 -all');
  });

  test('publish SPF for the domain and the HELO name, authorising only the host (and smarthost) with -all', () => {
    const records = buildMailRecords({ ...base, spfIncludes: ['amazonses.com'] });
    expect(find(records, 'spf')).toMatchObject({ name: 'example.com', value: 'v=spf1 ip4:203.0.113.10 include:amazonses.com -all' });
    expect(find(records, 'helo-spf')).toMatchObject({ name: 'mail.example.com', value: 'v=spf1 ip4:203.0.113.10 -all' });
  });

  test('publish the DKIM key under <selector>._domainkey as base64 SPKI, split into strings of at most 255 octets', () => {
    const dkim = find(buildMailRecords(base), 'dkim');
    expect(dkim.name).toBe('mx1._domainkey.example.com');
    expect(dkim.value).toBe(`v=DKIM1; k=rsa; p=${spkiBase64}`);
    expect(dkim.value.length).toBeGreaterThan(255);
    const strings = [...dkim.content.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    expect(strings.length).toBe(2);
    expect(strings.every((s) => s.length <= 255)).toBe(true);
    expect(strings.join('')).toBe(dkim.value);
    expect(dkim.content).toBe(`"${dkim.value.slice(0, 255)}" "${dkim.value.slice(255)}"`);
  });

  test('produce byte-identical DKIM content on every build, so Cloudflare records do not drift', () => {
    expect(find(buildMailRecords(base), 'dkim').content).toBe(find(buildMailRecords({ ...base }), 'dkim').content);
  });

  test('accept the DKIM key as PEM or as the bare base64', () => {
    expect(dkimPublicKeyBase64(publicPem)).toBe(spkiBase64);
    expect(dkimPublicKeyBase64(`${spkiBase64.slice(0, 64)}\n${spkiBase64.slice(64)}`)).toBe(spkiBase64);
    expect(() => dkimPublicKeyBase64('not a key!')).toThrow('neither PEM nor base64');
  });

  test('publish DMARC with the policy and rua, and TLS-RPT to the same mailbox', () => {
    const records = buildMailRecords(base);
    expect(find(records, 'dmarc')).toMatchObject({ name: '_dmarc.example.com', value: 'v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com' });
    expect(find(records, 'tls-rpt')).toMatchObject({ name: '_smtp._tls.example.com', value: 'v=TLSRPTv1; rua=mailto:dmarc@example.com' });
  });

  test('default DMARC to p=none with reports to postmaster@<domain>', () => {
    const records = buildMailRecords({ domain: 'example.org', hostname: 'mx.example.org', ipv4: '192.0.2.7' });
    expect(find(records, 'dmarc').value).toBe('v=DMARC1; p=none; rua=mailto:postmaster@example.org');
    expect(records.some((r) => r.key === 'dkim')).toBe(false);
  });

  test('publish MTA-STS only when asked: _mta-sts TXT with an id and an A record for mta-sts.<domain>', () => {
    expect(buildMailRecords(base).some((r) => r.name.includes('mta-sts'))).toBe(false);
    const records = buildMailRecords({ ...base, mtaSts: { mode: 'testing', maxAge: '7d' } });
    expect(find(records, 'mta-sts').name).toBe('_mta-sts.example.com');
    expect(find(records, 'mta-sts').value).toMatch(/^v=STSv1; id=[a-f0-9]{20}$/);
    expect(find(records, 'mta-sts-a')).toMatchObject({ type: 'A', name: 'mta-sts.example.com', content: '203.0.113.10' });
  });

  test('change the MTA-STS id if and only if the policy changes', () => {
    const id = (mode: 'testing' | 'enforce', maxAge: string, hostname = 'mail.example.com') =>
      find(buildMailRecords({ ...base, hostname, mtaSts: { mode, maxAge } }), 'mta-sts').value;
    expect(id('testing', '7d')).toBe(id('testing', '7d'));
    expect(id('testing', '7d')).toBe(find(buildMailRecords({ ...base, ipv4: '198.51.100.1', mtaSts: { mode: 'testing', maxAge: '7d' } }), 'mta-sts').value);
    expect(id('enforce', '7d')).not.toBe(id('testing', '7d'));
    expect(id('testing', '1d')).not.toBe(id('testing', '7d'));
    expect(id('testing', '7d', 'mx2.example.com')).not.toBe(id('testing', '7d'));
  });

  test('write the MTA-STS policy as RFC 8461 lines with max_age in seconds', () => {
    const policy = mtaStsPolicy('enforce', ['mail.example.com'], '7d');
    expect(policy).toBe('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n');
    expect(mtaStsId(policy)).toMatch(/^[a-f0-9]{20}$/);
    expect(() => mtaStsPolicy('enforce', ['mail.example.com'], '400d')).toThrow('maxAge');
  });

  test('publish CAA for the mail host names only, never at the apex', () => {
    const records = buildMailRecords({ ...base, mtaSts: { mode: 'testing', maxAge: '7d' }, caaIssuers: ['letsencrypt.org'] });
    const caa = records.filter((r) => r.type === 'CAA');
    expect(caa.map((r) => r.name).sort()).toEqual(['mail.example.com', 'mta-sts.example.com']);
    expect(caa[0]).toMatchObject({ value: '0 issue "letsencrypt.org"', caa: { flags: 0, tag: 'issue', value: 'letsencrypt.org' } });
    expect(buildMailRecords(base).some((r) => r.type === 'CAA')).toBe(false);
  });

  test('publish _submissions._tcp and _submission._tcp SRV records pointing at the host (RFC 6186, RFC 8314)', () => {
    const records = buildMailRecords({ ...base, submissionPorts: { submission: 587, submissions: 465 } });
    expect(find(records, 'srv-submissions')).toMatchObject({
      type: 'SRV',
      name: '_submissions._tcp.example.com',
      srv: { priority: 0, weight: 1, port: 465, target: 'mail.example.com' },
    });
    expect(find(records, 'srv-submission')).toMatchObject({
      type: 'SRV',
      name: '_submission._tcp.example.com',
      srv: { priority: 0, weight: 1, port: 587, target: 'mail.example.com' },
    });
  });

  test('publish no SRV record without submission ports, nor for a port of 0 (an unbound test listener)', () => {
    expect(buildMailRecords(base).some((r) => r.type === 'SRV')).toBe(false);
    const records = buildMailRecords({ ...base, submissionPorts: { submission: 0, submissions: 2465 } });
    expect(records.filter((r) => r.type === 'SRV').map((r) => r.name)).toEqual(['_submissions._tcp.example.com']);
    expect(() => buildMailRecords({ ...base, submissionPorts: { submission: 70000 } })).toThrow('not a TCP port');
  });

  test('give every record a distinct stable key', () => {
    const records = buildMailRecords({ ...base, ipv6: '2001:db8::1', mtaSts: { mode: 'testing', maxAge: '7d' }, caaIssuers: ['letsencrypt.org'], submissionPorts: { submission: 587, submissions: 465 } });
    expect(new Set(records.map((r) => r.key)).size).toBe(records.length);
  });

  test('convert internationalised domain names to A-labels', () => {
    const records = buildMailRecords({ ...base, domain: 'bücher.example', hostname: 'mail.bücher.example', reportsTo: 'dmarc@bücher.example' });
    expect(find(records, 'mx')).toMatchObject({ name: 'xn--bcher-kva.example', value: 'mail.xn--bcher-kva.example' });
    expect(find(records, 'dkim').name).toBe('mx1._domainkey.xn--bcher-kva.example');
    expect(find(records, 'dmarc').value).toContain('rua=mailto:dmarc@xn--bcher-kva.example');
    expect(toALabel('MAIL.Bücher.Example.')).toBe('mail.xn--bcher-kva.example');
    expect(toAsciiAddress('ops@bücher.example')).toBe('ops@xn--bcher-kva.example');
  });

  test('refuse invalid names, addresses and selectors', () => {
    expect(() => buildMailRecords({ ...base, domain: 'not a domain' })).toThrow('not a valid DNS name');
    expect(() => buildMailRecords({ ...base, ipv4: '2001:db8::1' })).toThrow('not an IPv4 address');
    expect(() => buildMailRecords({ ...base, dkim: { selector: 'bad selector', publicKey: spkiBase64 } })).toThrow('not a DNS label');
    expect(() => buildMailRecords({ ...base, reportsTo: 'nobody' })).toThrow('reportsTo');
  });
});

describe('TXT strings', () => {
  test('split at 255 octets and escape quotes and backslashes', () => {
    expect(splitTxt('a'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90]);
    expect(splitTxt('a'.repeat(255))).toHaveLength(1);
    expect(txtContent('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });

  test('never cut a multi-byte character in half', () => {
    const parts = splitTxt('é'.repeat(200));
    expect(parts.every((p) => Buffer.byteLength(p) <= 255)).toBe(true);
    expect(parts.join('')).toBe('é'.repeat(200));
  });

  test('SPF and DMARC values follow RFC 7208 and RFC 7489 syntax', () => {
    expect(spfValue('192.0.2.1')).toBe('v=spf1 ip4:192.0.2.1 -all');
    expect(dmarcValue('reject', 'r@example.com')).toBe('v=DMARC1; p=reject; rua=mailto:r@example.com');
  });
});

describe('record formatters', () => {
  const records = buildMailRecords({ ...base, mtaSts: { mode: 'testing', maxAge: '7d' }, caaIssuers: ['letsencrypt.org'], submissionPorts: { submission: 587, submissions: 465 } });

  test('write a BIND zone fragment with absolute names, MX preference and split DKIM strings', () => {
    const zone = formatZone(records);
    expect(zone).toContain('_submission._tcp.example.com.\t3600\tIN\tSRV\t0 1 587 mail.example.com.\n');
    expect(zone).toContain('_submissions._tcp.example.com.\t3600\tIN\tSRV\t0 1 465 mail.example.com.\n');
    expect(zone).toContain('example.com.\t3600\tIN\tMX\t10 mail.example.com.\n');
    expect(zone).toContain('mail.example.com.\t3600\tIN\tA\t203.0.113.10\n');
    expect(zone).toContain('mail.example.com.\t3600\tIN\tCAA\t0 issue "letsencrypt.org"\n');
    expect(zone).toContain(`mx1._domainkey.example.com.\t3600\tIN\tTXT\t${find(records, 'dkim').content}\n`);
    for (const line of zone.trim().split('\n').slice(1)) expect(line.split('\t')).toHaveLength(5);
  });

  test('write JSON that round-trips to the same records', () => {
    expect(JSON.parse(formatJson(records))).toEqual(records);
  });

  describe('report addresses', () => {
    const mailboxes = { dmarc: 'dmarc-reports@example.com', tlsRpt: 'tls-reports@example.com' };

    test("point DMARC rua and TLS-RPT at the relay's own mailboxes, then at reportsTo", () => {
      const own = buildMailRecords({ ...base, reportsTo: undefined, reportMailboxes: mailboxes });
      expect(find(own, 'dmarc').value).toBe('v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com');
      expect(find(own, 'tls-rpt').value).toBe('v=TLSRPTv1; rua=mailto:tls-reports@example.com');
      const both = buildMailRecords({ ...base, reportMailboxes: mailboxes, reportsTo: 'DMARC-REPORTS@example.com' });
      expect(find(both, 'dmarc').value).toBe('v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com');
      const extra = buildMailRecords({ ...base, reportMailboxes: mailboxes, reportsTo: 'dmarc@example.com' });
      expect(find(extra, 'dmarc').value).toBe('v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com,mailto:dmarc@example.com');
      expect(extra.some((r) => r.key.startsWith('dmarc-report-auth'))).toBe(false);
    });

    test('add the RFC 7489 7.1 authorisation record for a report address at another domain, marked as belonging to that zone', () => {
      const records = buildMailRecords({ ...base, reportMailboxes: mailboxes, reportsTo: 'reports@dmarc-service.example.net' });
      expect(find(records, 'dmarc').value).toBe('v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com,mailto:reports@dmarc-service.example.net');
      expect(find(records, 'dmarc-report-auth-0')).toMatchObject({ type: 'TXT', name: 'example.com._report._dmarc.dmarc-service.example.net', value: 'v=DMARC1', external: true });
      expect(formatZone(records)).toContain('; publish in the zone of dmarc-service.example.net (RFC 7489 7.1 report authorisation):\nexample.com._report._dmarc.dmarc-service.example.net.\t3600\tIN\tTXT\t"v=DMARC1"');
      // A parent domain shares the Organizational Domain: no authorisation needed.
      const sub = buildMailRecords({ ...base, domain: 'dev.example.com', hostname: 'mail.dev.example.com', reportsTo: 'dmarc@example.com' });
      expect(sub.some((r) => r.key.startsWith('dmarc-report-auth'))).toBe(false);
    });
  });
});
