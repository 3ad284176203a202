/**
 * The records of a deployment of several hosts and domains (pure builder), and the per-host relay
 * config that goes with it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parsePolicy } from 'mailauth/lib/mta-sts';
import { hostnamesFor } from '../../infra/builders/names';
import {
  buildDeploymentRecords,
  deploymentMtaStsPolicy,
  dkimValue,
  mtaStsId,
  zoneOf,
  type DeploymentRecordsInput,
  type DnsRecord,
} from '../../infra/builders/records';
import { buildRelayConfig, dkimKeyFileName, HOST_FILES } from '../../infra/builders/relay-config';
import { parseRelayConfig } from '../../relay/src/config/schema';

const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const keys = { comMx1: pem(), comMx2: pem(), orgMx1: pem() };
const IP1 = '203.0.113.10';
const IP2 = '198.51.100.20';

const twoHostsTwoDomains: DeploymentRecordsInput = {
  hosts: [
    { hostname: 'mail.example.com', ipv4: IP1 },
    { hostname: 'mail2.example.com', ipv4: IP2 },
  ],
  domains: [
    { domain: 'example.com', dkim: [{ selector: 'mx1', publicKey: keys.comMx1 }] },
    { domain: 'example.org', dkim: [{ selector: 'mx1', publicKey: keys.orgMx1 }] },
  ],
  dmarcPolicy: 'quarantine',
  mtaSts: { mode: 'enforce', maxAge: '7d' },
  caaIssuers: ['letsencrypt.org'],
};

const zone = (zones: ReturnType<typeof buildDeploymentRecords>, domain: string) => {
  const found = zones.find((z) => z.domain === domain);
  if (!found) throw new Error(`no zone ${domain}`);
  return found.records;
};
const shown = (records: DnsRecord[]) => records.map((r) => `${r.key} ${r.type} ${r.name} ${r.priority ?? ''}${r.value}`.replace(/\s+/g, ' ')).sort();

describe('records of two hosts and two domains', () => {
  const zones = buildDeploymentRecords(twoHostsTwoDomains);
  const com = zone(zones, 'example.com');
  const org = zone(zones, 'example.org');

  test('go into one zone per domain, the host records into the zone of the host names', () => {
    expect(zones.map((z) => z.domain)).toEqual(['example.com', 'example.org']);
    expect(org.filter((r) => r.name.endsWith('example.com'))).toEqual([]);
    expect(com.filter((r) => r.name.endsWith('example.org'))).toEqual([]);
  });

  test('give every domain one MX per host at equal preference', () => {
    for (const [domain, records] of [['example.com', com], ['example.org', org]] as const) {
      const mx = records.filter((r) => r.type === 'MX');
      expect(mx.map((r) => [r.name, r.value, r.priority])).toEqual([
        [domain, 'mail.example.com', 10],
        [domain, 'mail2.example.com', 10],
      ]);
    }
  });

  test('publish SPF holding exactly the hosts\' addresses, for every domain', () => {
    for (const records of [com, org]) {
      expect(records.filter((r) => r.type === 'TXT' && r.value.startsWith('v=spf1') && !r.name.startsWith('mail')).map((r) => r.value)).toEqual([`v=spf1 ip4:${IP1} ip4:${IP2} -all`]);
    }
  });

  test('give each host its address, its HELO SPF and CAA, and the submission name every host\'s address', () => {
    const addresses = com.filter((r) => r.type === 'A' && !r.name.startsWith('mta-sts'));
    expect(addresses.map((r) => [r.key, r.name, r.value])).toEqual([
      ['a', 'mail.example.com', IP1],
      ['a-2', 'mail2.example.com', IP2],
      ['submission-a-2', 'mail.example.com', IP2],
    ]);
    expect(com.filter((r) => r.key.startsWith('helo-spf')).map((r) => [r.name, r.value])).toEqual([
      ['mail.example.com', `v=spf1 ip4:${IP1} -all`],
      ['mail2.example.com', `v=spf1 ip4:${IP2} -all`],
    ]);
    expect(com.filter((r) => r.type === 'CAA').map((r) => r.name).sort()).toEqual(['mail.example.com', 'mail2.example.com', 'mta-sts.example.com']);
    expect(org.filter((r) => r.type === 'CAA').map((r) => r.name)).toEqual(['mta-sts.example.org']);
  });

  test('publish each domain\'s own DKIM key, DMARC and TLS-RPT in its own zone', () => {
    expect(com.find((r) => r.key === 'dkim-mx1')).toMatchObject({ name: 'mx1._domainkey.example.com', value: dkimValue(keys.comMx1) });
    expect(org.find((r) => r.key === 'dkim-mx1')).toMatchObject({ name: 'mx1._domainkey.example.org', value: dkimValue(keys.orgMx1) });
    expect(org.find((r) => r.key === 'dmarc')?.value).toBe('v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org');
    expect(org.find((r) => r.key === 'tls-rpt')?.value).toBe('v=TLSRPTv1; rua=mailto:postmaster@example.org');
  });

  test('announce one MTA-STS policy listing every MX name, with mta-sts.<domain> on every host', () => {
    const policy = deploymentMtaStsPolicy({ mode: 'enforce', maxAge: '7d' }, ['mail.example.com', 'mail2.example.com']);
    expect(parsePolicy(policy)).toMatchObject({ mode: 'enforce', mx: ['mail.example.com', 'mail2.example.com'] });
    for (const [domain, records] of [['example.com', com], ['example.org', org]] as const) {
      expect(records.find((r) => r.key === 'mta-sts')?.value).toBe(`v=STSv1; id=${mtaStsId(policy)}`);
      expect(records.filter((r) => r.name === `mta-sts.${domain}` && r.type === 'A').map((r) => r.value)).toEqual([IP1, IP2]);
    }
  });

  test('say in a domain\'s zone that it takes DMARC reports about another of our domains (RFC 7489 §7.1)', () => {
    const shared = buildDeploymentRecords({ ...twoHostsTwoDomains, domains: twoHostsTwoDomains.domains.map((d) => ({ ...d, reportsTo: 'dmarc@example.com' })) });
    expect(zone(shared, 'example.com').filter((r) => r.key.startsWith('dmarc-report')).map((r) => [r.name, r.value])).toEqual([['example.org._report._dmarc.example.com', 'v=DMARC1']]);
    expect(zone(shared, 'example.org').some((r) => r.key.startsWith('dmarc-report'))).toBe(false);
  });

  test('give every record of a zone a distinct key', () => {
    for (const records of [com, org]) expect(new Set(records.map((r) => r.key)).size).toBe(records.length);
  });
});

describe('changing a deployment', () => {
  const one = zone(buildDeploymentRecords({ ...twoHostsTwoDomains, hosts: twoHostsTwoDomains.hosts.slice(0, 1) }), 'example.com');
  const two = zone(buildDeploymentRecords(twoHostsTwoDomains), 'example.com');

  test('adding a host keeps every record of host 1 as it was; only SPF and the MTA-STS id change', () => {
    const changed = one.filter((record) => JSON.stringify(two.find((r) => r.key === record.key)) !== JSON.stringify(record)).map((r) => r.key);
    expect(changed.sort()).toEqual(['mta-sts', 'spf']);
  });

  test('adding a DKIM selector adds its record and changes no other, whatever the order', () => {
    const withSelectors = (selectors: Array<'mx1' | 'mx2'>) =>
      zone(buildDeploymentRecords({ ...twoHostsTwoDomains, domains: [{ domain: 'example.com', dkim: selectors.map((s) => ({ selector: s, publicKey: s === 'mx1' ? keys.comMx1 : keys.comMx2 })) }] }), 'example.com');
    const before = shown(withSelectors(['mx1']));
    const added = shown(withSelectors(['mx1', 'mx2']));
    expect(added.filter((line) => !before.includes(line))).toEqual([expect.stringMatching(/^dkim-mx2 TXT mx2\._domainkey\.example\.com v=DKIM1/)]);
    expect(shown(withSelectors(['mx2', 'mx1']))).toEqual(added);
  });

  test('refuses a selector listed twice, two hosts of one name, and a domain listed twice', () => {
    expect(() => buildDeploymentRecords({ ...twoHostsTwoDomains, domains: [{ domain: 'example.com', dkim: [{ selector: 'mx1', publicKey: keys.comMx1 }, { selector: 'MX1', publicKey: keys.comMx2 }] }] })).toThrow('listed twice');
    expect(() => buildDeploymentRecords({ ...twoHostsTwoDomains, hosts: [twoHostsTwoDomains.hosts[0], { hostname: 'MAIL.example.com', ipv4: IP2 }] })).toThrow('used by two hosts');
    expect(() => buildDeploymentRecords({ ...twoHostsTwoDomains, domains: [{ domain: 'example.com' }, { domain: 'Example.COM' }] })).toThrow('listed twice');
  });
});

describe('host names', () => {
  test('keep a plain name for host 1 and number the first label for the others', () => {
    expect(hostnamesFor('mail.example.com', 3)).toEqual(['mail.example.com', 'mail2.example.com', 'mail3.example.com']);
    expect(hostnamesFor('mx1.example.com', 2)).toEqual(['mx1.example.com', 'mx2.example.com']);
    expect(hostnamesFor('smtp-1.example.com', 2)).toEqual(['smtp-1.example.com', 'smtp-2.example.com']);
  });

  test('follow a {n} pattern for every host, host 1 included', () => {
    expect(hostnamesFor('mx{n}.example.com', 2)).toEqual(['mx1.example.com', 'mx2.example.com']);
    expect(hostnamesFor('relay-{n}.mail.bücher.example', 1)).toEqual(['relay-1.mail.xn--bcher-kva.example']);
  });

  test('are in the zone of the longest of our domains they fall under', () => {
    expect(zoneOf('mail.eu.example.com', ['example.com', 'eu.example.com'])).toBe('eu.example.com');
    expect(zoneOf('mail.example.net', ['example.com', 'example.org'])).toBe('example.com');
  });
});

describe('relay config of host 2', () => {
  const config = parseRelayConfig(
    buildRelayConfig({
      hostname: 'mail2.example.com',
      domains: ['example.com', 'example.org'],
      files: HOST_FILES,
      dkim: [
        { domain: 'example.com', selector: 'mx2', keyFile: `/run/mxkit/${dkimKeyFileName('example.com', 'mx2')}` },
        { domain: 'example.com', selector: 'mx1', keyFile: `/run/mxkit/${dkimKeyFileName('example.com', 'mx1')}` },
        { domain: 'example.org', selector: 'mx2', keyFile: `/run/mxkit/${dkimKeyFileName('example.org', 'mx2')}` },
      ],
      certificateNames: ['mail.example.com'],
      tls: { mode: 'acme', email: 'ops@example.com' },
      mtaSts: { mode: 'enforce', maxAge: '7d' },
      mtaStsPolicyFile: '/run/mxkit/mta-sts.txt',
      routes: [{ match: '*@example.org', forward: ['inbox@example.net'] }],
    }),
  );

  test('lists each domain\'s keys in order, the signing key first, each in its own file', () => {
    expect(config.dkim).toEqual([
      { domain: 'example.com', selector: 'mx2', keyFile: '/run/mxkit/dkim-example.com-mx2.key' },
      { domain: 'example.com', selector: 'mx1', keyFile: '/run/mxkit/dkim-example.com-mx1.key' },
      { domain: 'example.org', selector: 'mx2', keyFile: '/run/mxkit/dkim-example.org-mx2.key' },
    ]);
  });

  test('asks for a certificate for its own name, the shared submission name and every mta-sts name', () => {
    expect(config.tls?.acme?.names).toEqual(['mail2.example.com', 'mail.example.com', 'mta-sts.example.com', 'mta-sts.example.org']);
  });

  test('serves the shared MTA-STS policy file', () => {
    expect(config.mtaSts).toEqual({ mode: 'enforce', maxAge: '7d', policyFile: '/run/mxkit/mta-sts.txt' });
  });
});
