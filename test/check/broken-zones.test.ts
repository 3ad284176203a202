import { generateKeyPairSync } from 'node:crypto';
import { dkimValue } from '../../infra/builders/records';
import { checkPtr } from '../../relay/src/check/dns-checks';
import { createDnsClient } from '../../relay/src/check/dns-client';
import { runChecks } from '../../relay/src/check/run-checks';
import type { CheckReport } from '../../relay/src/check/types';
import { ptrName } from '../helpers/dns-server';
import { HOSTNAME } from '../helpers/relay';
import { BLOCKLIST, DOMAIN, IP, goodZone, startWorld, withRecord, type World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(() => world.stop());

/** Everything that is not a pass, as [id, status] pairs: a broken zone must break exactly its check. */
const problems = (report: CheckReport) => report.checks.filter((c) => c.status !== 'pass').map((c) => [c.id, c.status]);
const find = (report: CheckReport, id: string) => {
  const check = report.checks.find((c) => c.id === id);
  if (!check) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return check;
};

describe('mxkit check against deliberately broken zones', () => {
  test('a missing DKIM record fails the DKIM check and says where to publish the key', async () => {
    const dns = await world.dns(goodZone({ dkim: undefined }));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.dkim', 'fail']]);
    expect(find(report, 'dns.dkim').summary).toBe('no DKIM record at mx1._domainkey.example.test');
    expect(find(report, 'dns.dkim').fix).toMatch(/^publish the DKIM key at mx1\._domainkey\.example\.test \(`mxkit records` prints it; pulumi up creates it\)/);
    expect(report.ok).toBe(false);
  });

  test('a PTR naming another host fails with the PTR fix', async () => {
    const dns = await world.dns(withRecord(goodZone(), ptrName(IP), 'PTR', 'host-127-0-0-1.isp.test'));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.ptr.127.0.0.1', 'fail']]);
    expect(find(report, 'dns.ptr.127.0.0.1')).toMatchObject({
      summary: 'PTR of 127.0.0.1 is host-127-0-0-1.isp.test, not mail.example.test',
      fix: 'set PTR of 127.0.0.1 to mail.example.test: pulumi up sets it once the A record exists',
    });
  });

  test('a missing PTR fails the same check', async () => {
    const dns = await world.dns(withRecord(goodZone(), ptrName(IP), 'PTR', undefined));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.ptr.127.0.0.1', 'fail']]);
    expect(find(report, 'dns.ptr.127.0.0.1').summary).toBe('127.0.0.1 has no PTR record');
  });

  test('an SPF record without the host address fails for that address with the term to add', async () => {
    const dns = await world.dns(withRecord(goodZone(), DOMAIN, 'TXT', 'v=spf1 ip4:192.0.2.10 -all'));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.spf.127.0.0.1', 'fail']]);
    expect(find(report, 'dns.spf.127.0.0.1').summary).toMatch(/^SPF gives fail for 127\.0\.0\.1/);
    expect(find(report, 'dns.spf.127.0.0.1').fix).toBe('add ip4:127.0.0.1 to the SPF record of example.test (before the "all"): pulumi up publishes it');
  });

  test('an address authorised through an SPF include passes (includes are followed)', async () => {
    const zone = withRecord(goodZone(), DOMAIN, 'TXT', 'v=spf1 include:_spf.example.test -all');
    const dns = await world.dns([...zone, { name: '_spf.example.test', type: 'TXT', value: 'v=spf1 ip4:127.0.0.0/8 -all' }]);
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([]);
  });

  test('an SPF record ending in ?all fails: it authorises anyone', async () => {
    const dns = await world.dns(withRecord(goodZone(), DOMAIN, 'TXT', 'v=spf1 ip4:127.0.0.1 ?all'));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.spf', 'fail']]);
    expect(find(report, 'dns.spf').fix).toBe('end the SPF record of example.test with -all instead of ?all');
  });

  test('a 1024-bit DKIM key warns and says to rotate', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const dns = await world.dns(withRecord(goodZone(), `mx1._domainkey.${DOMAIN}`, 'TXT', dkimValue(small)));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.dkim', 'warn']]);
    expect(find(report, 'dns.dkim').fix).toMatch(/rotate to a 2048-bit key/);
    expect(report.ok).toBe(true);
  });

  test('a missing DMARC record fails with the record to publish', async () => {
    const dns = await world.dns(withRecord(goodZone(), `_dmarc.${DOMAIN}`, 'TXT', undefined));
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['dns.dmarc', 'fail']]);
    expect(find(report, 'dns.dmarc').fix).toMatch(/^publish TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.test" at _dmarc\.example\.test/);
  });

  test('an MX pointing elsewhere than --host fails the MX check', async () => {
    const dns = await world.dns(goodZone());
    const report = await runChecks(world.options(dns, { host: 'mx.other.test' }));
    expect(find(report, 'dns.mx')).toMatchObject({ status: 'fail', summary: 'MX of example.test is mail.example.test, not mx.other.test' });
  });

  test('an MTA-STS record whose policy cannot be fetched fails: it promises a policy that is not there', async () => {
    const dns = await world.dns(goodZone());
    const options = world.options(dns);
    const report = await runChecks({ ...options, ports: { ...options.ports, https: world.closedPort } });
    expect(problems(report)).toEqual([['dns.mta-sts-policy', 'fail']]);
    expect(find(report, 'dns.mta-sts-policy').fix).toBe(
      'serve the policy at https://mta-sts.example.test/.well-known/mta-sts.txt with a certificate valid for mta-sts.example.test, or remove _mta-sts.example.test',
    );
  });

  test('a zone without MTA-STS, TLS-RPT and CAA only warns (they harden, they do not break delivery)', async () => {
    const zone = goodZone({ mtaSts: undefined, caaIssuers: [] }).filter((r) => r.name !== `_smtp._tls.${DOMAIN}`);
    const dns = await world.dns(zone);
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([
      ['dns.mta-sts', 'warn'],
      ['dns.tls-rpt', 'warn'],
      ['dns.caa', 'warn'],
    ]);
    expect(report.ok).toBe(true);
  });

  test('a zone the DNS server does not serve fails every DNS check with a reason, not a crash', async () => {
    const dns = await world.dns([]);
    const report = await runChecks(world.options(dns, { domain: 'not-served.test', host: HOSTNAME }));
    expect(find(report, 'dns.mx').summary).toMatch(/^could not look up MX of not-served\.test: EREFUSED from 127\.0\.0\.1:\d+$/);
    expect(report.ok).toBe(false);
  });
});

describe('mxkit check reputation', () => {
  test('a listed address fails with the list’s reason and the delisting fix', async () => {
    const listed = `${ptrName(IP).replace('.in-addr.arpa', '')}.${BLOCKLIST}`;
    const dns = await world.dns([
      ...goodZone(),
      { name: listed, type: 'A', value: '127.0.0.2' },
      { name: listed, type: 'TXT', value: 'listed: see https://bl.test/lookup' },
    ]);
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['reputation.bl.test.127.0.0.1', 'fail']]);
    expect(find(report, 'reputation.bl.test.127.0.0.1')).toMatchObject({
      summary: '127.0.0.1 is LISTED on bl.test (127.0.0.2): listed: see https://bl.test/lookup',
      fix: 'find and stop what sent spam from 127.0.0.1, then request removal from bl.test (its TXT record names the page)',
    });
  });

  test('a blocklist the DNS server cannot answer for is reported as not checked, a warn', async () => {
    const dns = await world.dns(goodZone());
    const report = await runChecks(world.options(dns, { dnsblZones: ['zen.spamhaus.org'] }));
    expect(problems(report)).toEqual([['reputation.zen.spamhaus.org.127.0.0.1', 'warn']]);
    expect(find(report, 'reputation.zen.spamhaus.org.127.0.0.1').summary).toBe('127.0.0.1 on zen.spamhaus.org: not checked (EREFUSED)');
    expect(report.ok).toBe(true);
  });

  test('a blocklist answering 127.255.255.x (query refused, Spamhaus style) is not a listing', async () => {
    const name = `1.0.0.127.${BLOCKLIST}`;
    const dns = await world.dns([...goodZone(), { name, type: 'A', value: '127.255.255.254' }]);
    const report = await runChecks(world.options(dns));
    expect(problems(report)).toEqual([['reputation.bl.test.127.0.0.1', 'warn']]);
  });
});

describe('the PTR check with several hosts behind one name', () => {
  const SECOND = '127.0.0.4';
  // The submission name (host 1's) holds host 2's address too; host 2's address points at its own name.
  const twoHosts = (ptrOfSecond: string, secondName = 'mail2.example.test') => [
    ...goodZone(),
    { name: HOSTNAME, type: 'A' as const, value: SECOND },
    { name: secondName, type: 'A' as const, value: SECOND },
    { name: ptrName(SECOND), type: 'PTR' as const, value: ptrOfSecond },
  ];

  test('passes for another host\'s address whose PTR names that host and resolves back to it (forward-confirmed)', async () => {
    const dns = await world.dns(twoHosts('mail2.example.test'));
    const result = await checkPtr(createDnsClient(dns.server, 2000), HOSTNAME, SECOND);
    expect(result).toMatchObject({ status: 'pass', summary: 'PTR of 127.0.0.4 is mail2.example.test, which resolves back to it (forward-confirmed; another host of mail.example.test)' });
  });

  test('fails when the PTR name does not resolve back to the address', async () => {
    const dns = await world.dns(twoHosts('mail3.example.test'));
    const result = await checkPtr(createDnsClient(dns.server, 2000), HOSTNAME, SECOND);
    expect(result).toMatchObject({ status: 'fail', summary: 'PTR of 127.0.0.4 is mail3.example.test, not mail.example.test' });
  });
});
