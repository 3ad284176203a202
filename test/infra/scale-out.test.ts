/**
 * The program under mocks with several hosts and domains, and across changes of config: each run
 * is a process of its own (test/infra/helpers/snapshot-child.ts), and two runs compared resource by
 * resource show what a `pulumi up` between them would create, change and delete.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parsePolicy } from 'mailauth/lib/mta-sts';
import { mtaStsId } from '../../infra/builders/records';
import { parseRelayConfig, type RelayConfig } from '../../relay/src/config/schema';
import { mockPublicIp } from './helpers/mocks';
import { TEST_HASH } from './helpers/stack';
import type { Snapshot, SnapshotResource } from './helpers/snapshot-child';

const ROOT = path.resolve(__dirname, '../..');
const ZONE_COM = '0123456789abcdef0123456789abcdef';
const ZONE_ORG = 'fedcba9876543210fedcba9876543210';
const IP1 = mockPublicIp('mxkit-host-ip');
const IP2 = mockPublicIp('mxkit-host-2-ip');

/** Every run's generated keys are this one, so runs differ only where their config does. */
const MOCK_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

async function snapshot(overrides: Record<string, string>): Promise<Snapshot> {
  const { stdout } = await promisify(execFile)(process.execPath, ['scripts/run-ts.mjs', 'test/infra/helpers/snapshot-child.ts', 'prod', JSON.stringify(overrides)], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, MXKIT_MOCK_KEY: MOCK_KEY },
  });
  return JSON.parse(stdout) as Snapshot;
}

const twoDomains = {
  'mxkit:domain': '',
  'mxkit:cloudflareZoneId': '',
  'mxkit:domains': JSON.stringify([
    { domain: 'example.com', cloudflareZoneId: ZONE_COM },
    { domain: 'example.org', cloudflareZoneId: ZONE_ORG },
  ]),
  'mxkit:routes': JSON.stringify([
    { match: 'postmaster@example.com', forward: ['ops@example.net'] },
    { match: '*@example.org', forward: ['inbox@example.net'] },
  ]),
};
const selectors = (...list: string[]) => ({ 'mxkit:dkimSelector': '', 'mxkit:dkimSelectors': JSON.stringify(list) });

let runs: Record<'one' | 'two' | 'twoNewUser' | 'twoDomains' | 'rotation1' | 'rotation2' | 'rotation3', Snapshot>;

beforeAll(async () => {
  const [one, two, twoNewUser, both, rotation1, rotation2, rotation3] = await Promise.all([
    snapshot({}),
    snapshot({ 'mxkit:hosts': '2' }),
    snapshot({ 'mxkit:hosts': '2', 'mxkit:users': JSON.stringify([{ username: 'carol', passwordHash: TEST_HASH, allowedFrom: ['*@example.com'] }]) }),
    snapshot({ 'mxkit:hosts': '2', ...twoDomains }),
    snapshot(selectors('mx1', 'mx2')),
    snapshot(selectors('mx2', 'mx1')),
    snapshot(selectors('mx2')),
  ]);
  runs = { one, two, twoNewUser, twoDomains: both, rotation1, rotation2, rotation3 };
}, 120_000);

const ofType = (run: Snapshot, type: string) => run.resources.filter((r) => r.type === type);
const named = (run: Snapshot, name: string, type?: string) => {
  const found = run.resources.filter((r) => r.name === name && (type === undefined || r.type === type));
  if (found.length !== 1) throw new Error(`expected one ${type ?? ''} ${name}, found ${found.length}`);
  return found[0];
};
const records = (run: Snapshot) => ofType(run, 'cloudflare:index/dnsRecord:DnsRecord').map((r) => r.inputs as { zoneId: string; name: string; type: string; content?: string; priority?: number });
const parameter = (run: Snapshot, ssmName: string) => ofType(run, 'aws:ssm/parameter:Parameter').find((p) => p.inputs.name === ssmName);
const relayConfigOf = (run: Snapshot, ssmName: string): RelayConfig => parseRelayConfig(JSON.parse(String(parameter(run, ssmName)?.inputs.value)));
const txt = (content: string | undefined) => [...String(content).matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');

/**
 * Resources of `before` that `after` registers with other inputs or options (what `pulumi up` would
 * update or replace), those it drops (deletes) and those it adds (creates). Dependencies are not
 * compared: they order operations and change nothing by themselves.
 */
function changes(before: Snapshot, after: Snapshot): { changed: string[]; deleted: string[]; created: string[] } {
  const byUrn = new Map(after.resources.map((r) => [r.urn, r]));
  const same = (a: SnapshotResource, b: SnapshotResource) =>
    JSON.stringify([a.inputs, a.protect, a.retainOnDelete]) === JSON.stringify([b.inputs, b.protect, b.retainOnDelete]);
  const earlier = new Set(before.resources.map((r) => r.urn));
  return {
    changed: before.resources.filter((r) => byUrn.has(r.urn) && !same(r, byUrn.get(r.urn) as SnapshotResource)).map((r) => r.name).sort(),
    deleted: before.resources.filter((r) => !byUrn.has(r.urn)).map((r) => r.name).sort(),
    created: after.resources.filter((r) => !earlier.has(r.urn)).map((r) => r.name).sort(),
  };
}

describe('mxkit:hosts 2', () => {
  test('puts one instance in each of two availability zones, each with its own Elastic IP and spool volume', () => {
    const instances = ofType(runs.two, 'aws:ec2/instance:Instance');
    expect(instances.map((i) => i.name)).toEqual(['mxkit-host-vm', 'mxkit-host-2-vm']);
    expect(instances.map((i) => i.inputs.availabilityZone)).toEqual(['eu-west-1a', 'eu-west-1b']);
    expect(ofType(runs.two, 'aws:ebs/volume:Volume').map((v) => v.inputs.availabilityZone)).toEqual(['eu-west-1a', 'eu-west-1b']);
    expect(ofType(runs.two, 'aws:ec2/eip:Eip')).toHaveLength(2);
    expect(runs.two.outputs.hosts).toEqual([
      { hostname: 'mail.example.com', publicIp: IP1, instanceId: 'mxkit-host-vm-id', availabilityZone: 'eu-west-1a' },
      { hostname: 'mail2.example.com', publicIp: IP2, instanceId: 'mxkit-host-2-vm-id', availabilityZone: 'eu-west-1b' },
    ]);
  });

  test('gives each host a PTR with its own name, made after its A record', () => {
    const ptrs = ofType(runs.two, 'aws:ec2/eipDomainName:EipDomainName');
    expect(ptrs.map((p) => [p.inputs.allocationId, p.inputs.domainName])).toEqual([
      ['eipalloc-mxkit-host-ip', 'mail.example.com'],
      ['eipalloc-mxkit-host-2-ip', 'mail2.example.com'],
    ]);
    expect(ptrs[0].dependencies).toContain(named(runs.two, 'mxkit-dns-a').urn);
    expect(ptrs[1].dependencies).toContain(named(runs.two, 'mxkit-dns-a-2').urn);
  });

  test('publishes one MX per host at equal preference, SPF with exactly the Elastic IPs, and the submission name on every host', () => {
    const published = records(runs.two);
    expect(published.filter((r) => r.type === 'MX').map((r) => [r.content, r.priority])).toEqual([
      ['mail.example.com', 10],
      ['mail2.example.com', 10],
    ]);
    const spf = published.filter((r) => r.name === 'example.com' && txt(r.content).startsWith('v=spf1'));
    expect(spf.map((r) => txt(r.content))).toEqual([`v=spf1 ip4:${IP1} ip4:${IP2} -all`]);
    expect(published.filter((r) => r.type === 'A' && r.name === 'mail.example.com').map((r) => r.content).sort()).toEqual([IP1, IP2].sort());
    expect(published.filter((r) => r.type === 'A' && r.name === 'mail2.example.com').map((r) => r.content)).toEqual([IP2]);
    expect(published.filter((r) => r.name === 'mail2.example.com' && r.type === 'TXT').map((r) => txt(r.content))).toEqual([`v=spf1 ip4:${IP2} -all`]);
  });

  test('serves one MTA-STS policy listing every MX name, announced by its hash, from every host', () => {
    const policy = String(parameter(runs.two, '/mxkit/mxkit/prod/shared/mta-sts.txt')?.inputs.value);
    expect(parsePolicy(policy).mx).toEqual(['mail.example.com', 'mail2.example.com']);
    expect(txt(records(runs.two).find((r) => r.name === '_mta-sts.example.com')?.content)).toBe(`v=STSv1; id=${mtaStsId(policy)}`);
    expect(records(runs.two).filter((r) => r.name === 'mta-sts.example.com' && r.type === 'A').map((r) => r.content)).toEqual([IP1, IP2]);
    for (const config of [relayConfigOf(runs.two, '/mxkit/mxkit/prod/relay.json'), relayConfigOf(runs.two, '/mxkit/mxkit/prod/host-2/relay.json')]) {
      expect(config.mtaSts?.policyFile).toBe('/run/mxkit/mta-sts.txt');
    }
    // Every host re-reads it while it runs, and its version is no part of what replaces a host.
    expect(String(named(runs.two, 'mxkit-host-2-vm').inputs.userData)).toContain('MXKIT_REFRESH_PARAMETERS="mta-sts.txt"');
  });

  test('runs a relay on each host under its own name, with certificates for its name, the submission name and the policy host', () => {
    const first = relayConfigOf(runs.two, '/mxkit/mxkit/prod/relay.json');
    const second = relayConfigOf(runs.two, '/mxkit/mxkit/prod/host-2/relay.json');
    expect([first.hostname, second.hostname]).toEqual(['mail.example.com', 'mail2.example.com']);
    expect(first.tls?.acme?.names).toEqual(['mail.example.com', 'mta-sts.example.com']);
    expect(second.tls?.acme?.names).toEqual(['mail2.example.com', 'mail.example.com', 'mta-sts.example.com']);
    expect(first.forwarding?.srsSecretFile).toBe('/run/mxkit/srs.secret');
  });

  test('lets host 2 read its own and the shared parameters only', () => {
    const policy = JSON.parse(String(named(runs.two, 'mxkit-host-2-policy').inputs.policy)) as { Statement: Array<{ Sid: string; Resource: string[] }> };
    const readable = policy.Statement.find((s) => s.Sid === 'ReadOwnParameters')?.Resource ?? [];
    expect(readable.every((arn) => /:parameter\/mxkit\/mxkit\/prod\/(host-2|shared)\//.test(arn))).toBe(true);
    expect(readable.some((arn) => arn.endsWith('/mxkit/mxkit/prod/relay.json'))).toBe(false);
  });
});

describe('going from 1 host to 2 and back', () => {
  test('changes no resource of host 1: only the SPF record, the MTA-STS id and the shared policy change', () => {
    const up = changes(runs.one, runs.two);
    expect(up.deleted).toEqual([]);
    expect(up.changed).toEqual(['mxkit-dns-mta-sts', 'mxkit-dns-spf', 'mxkit-shared-mta-sts-txt']);
    expect(up.created.filter((name) => !name.startsWith('mxkit-host-2')).sort()).toEqual([
      // Host 2's config push (the command document is shared).
      'mxkit-config-reload-host-2',
      'mxkit-dns-a-2',
      'mxkit-dns-caa-host-2-0',
      'mxkit-dns-helo-spf-2',
      'mxkit-dns-mta-sts-a-2',
      'mxkit-dns-mx-2',
      'mxkit-dns-ptr-2',
      'mxkit-dns-submission-a-2',
    ]);
    // Back to one: exactly host 2's resources go, and host 1's are as they were before host 2 came.
    const down = changes(runs.two, runs.one);
    expect(down.created).toEqual([]);
    expect(down.deleted).toEqual(up.created);
    expect(down.changed).toEqual(up.changed);
  });

  test('keeps a removed host\'s spool volume, with its queue, and gives up its address', () => {
    const volume = named(runs.two, 'mxkit-host-2-spool', 'aws:ebs/volume:Volume');
    expect(volume.retainOnDelete).toBe(true);
    expect(volume.protect).toBe(false);
    expect(named(runs.two, 'mxkit-host-2-ip', 'aws:ec2/eip:Eip').protect).toBe(false);
    expect(named(runs.two, 'mxkit-host-ip', 'aws:ec2/eip:Eip').protect).toBe(true);
  });

  test('replaces host 2 only after host 1 (a change that replaces both never stops both at once)', () => {
    expect(named(runs.two, 'mxkit-host-2', 'mxkit:host:MailHost').dependencies).toContain(named(runs.two, 'mxkit-host-vm').urn);
    expect(named(runs.two, 'mxkit-host', 'mxkit:host:MailHost').dependencies.some((urn) => urn.includes('mxkit-host-2'))).toBe(false);
  });
});

describe('a config change with two hosts', () => {
  const associations = (run: Snapshot) =>
    ofType(run, 'aws:ssm/association:Association').map((r) => r.inputs as { name: string; targets: Array<{ values: string[] }>; parameters: { revision: string } });

  test('reaches each host through its own association of one shared document, aimed at that host only', () => {
    expect(ofType(runs.two, 'aws:ssm/document:Document')).toHaveLength(1);
    const [first, second] = associations(runs.two);
    // The mocks give each resource the id `<name>-id`.
    expect(first.targets[0].values).toEqual(['mxkit-host-vm-id']);
    expect(second.targets[0].values).toEqual(['mxkit-host-2-vm-id']);
    expect(first.name).toBe(second.name);
  });

  test('a new user changes both hosts\' revisions and replaces no instance', () => {
    const update = changes(runs.two, runs.twoNewUser);
    expect(update.created).toEqual([]);
    expect(update.deleted).toEqual([]);
    expect(update.changed.filter((name) => name.includes('reload'))).toEqual(['mxkit-config-reload', 'mxkit-config-reload-host-2']);
    expect(update.changed.some((name) => ofType(runs.two, 'aws:ec2/instance:Instance').some((instance) => instance.name === name))).toBe(false);
    const revisions = (run: Snapshot) => associations(run).map((association) => association.parameters.revision);
    expect(revisions(runs.twoNewUser)[0]).not.toBe(revisions(runs.two)[0]);
    expect(revisions(runs.twoNewUser)[1]).not.toBe(revisions(runs.two)[1]);
  });
});

describe('mxkit:domains with two domains', () => {
  test('publishes every domain\'s MX, SPF, DKIM, DMARC, MTA-STS and TLS-RPT in its own zone', () => {
    for (const [domain, zoneId] of [['example.com', ZONE_COM], ['example.org', ZONE_ORG]]) {
      const zone = records(runs.twoDomains).filter((r) => r.zoneId === zoneId);
      expect(zone.filter((r) => r.name === domain && r.type === 'MX').map((r) => r.content)).toEqual(['mail.example.com', 'mail2.example.com']);
      expect(zone.filter((r) => r.name === domain && r.type === 'TXT').map((r) => txt(r.content))).toEqual([`v=spf1 ip4:${IP1} ip4:${IP2} -all`]);
      expect(txt(zone.find((r) => r.name === `mx1._domainkey.${domain}`)?.content)).toMatch(/^v=DKIM1; k=rsa; p=/);
      // Each domain's reports go to the relay's own mailbox at that domain.
      expect(txt(zone.find((r) => r.name === `_dmarc.${domain}`)?.content)).toBe(`v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`);
      expect(txt(zone.find((r) => r.name === `_mta-sts.${domain}`)?.content)).toMatch(/^v=STSv1; id=/);
      expect(zone.filter((r) => r.name === `mta-sts.${domain}` && r.type === 'A').map((r) => r.content)).toEqual([IP1, IP2]);
      expect(txt(zone.find((r) => r.name === `_smtp._tls.${domain}`)?.content)).toMatch(/^v=TLSRPTv1; rua=mailto:/);
      expect(zone.every((r) => r.name === domain || r.name.endsWith(`.${domain}`))).toBe(true);
    }
  });

  test('makes each domain its own DKIM key and lists both in the relay config of every host', () => {
    const keys = ofType(runs.twoDomains, 'mxkit:dkim:DkimKey').map((k) => k.name);
    expect(keys.sort()).toEqual(['mxkit-dkim-example.org-mx1', 'mxkit-dkim-mx1']);
    const comKey = txt(records(runs.twoDomains).find((r) => r.name === 'mx1._domainkey.example.com')?.content);
    expect(parameter(runs.twoDomains, '/mxkit/mxkit/prod/shared/dkim-example.org-mx1.key')).toBeDefined();
    expect(comKey).toBeTruthy();
    for (const file of ['/mxkit/mxkit/prod/relay.json', '/mxkit/mxkit/prod/host-2/relay.json']) {
      const config = relayConfigOf(runs.twoDomains, file);
      expect(config.domains).toEqual(['example.com', 'example.org']);
      expect(config.dkim.map((d) => `${d.domain}/${d.selector}`)).toEqual(['example.com/mx1', 'example.org/mx1']);
      expect(config.routes.map((r) => r.match)).toEqual(['postmaster@example.com', '*@example.org']);
      expect(config.tls?.acme?.names).toContain('mta-sts.example.org');
      expect(config.reports?.dmarc).toEqual(['dmarc-reports@example.com', 'dmarc-reports@example.org']);
    }
  });
});

describe('DKIM key rotation (docs/deploy.md), one `pulumi up` per step', () => {
  const steps = () => [
    { name: 'before: mx1', run: runs.one },
    { name: 'step 1: mx1, mx2', run: runs.rotation1 },
    { name: 'step 2: mx2, mx1', run: runs.rotation2 },
    { name: 'step 3: mx2', run: runs.rotation3 },
  ];
  const published = (run: Snapshot) => records(run).filter((r) => r.name.includes('._domainkey.')).map((r) => r.name);
  const signing = (run: Snapshot) => relayConfigOf(run, '/mxkit/mxkit/prod/relay.json').dkim[0];
  /** Selectors the relay signs with after the step whose records were not published by the step before. */
  const signsUnpublished = (before: Snapshot, after: Snapshot) => {
    const { selector, domain } = signing(after);
    return published(before).includes(`${selector}._domainkey.${domain}`) ? [] : [selector];
  };

  test('every step signs only with a key that the step before had already published', () => {
    const all = steps();
    for (let index = 1; index < all.length; index++) {
      expect({ step: all[index].name, unpublished: signsUnpublished(all[index - 1].run, all[index].run) }).toEqual({ step: all[index].name, unpublished: [] });
    }
    expect(steps().map((step) => signing(step.run).selector)).toEqual(['mx1', 'mx1', 'mx2', 'mx2']);
    // Skipping step 1 would sign with a key nobody could have fetched yet: the check sees it.
    expect(signsUnpublished(runs.one, runs.rotation2)).toEqual(['mx2']);
  });

  test('publishes every key the relay holds, and lists them signing key first', () => {
    for (const step of steps()) {
      const config = relayConfigOf(step.run, '/mxkit/mxkit/prod/relay.json');
      for (const entry of config.dkim) expect(published(step.run)).toContain(`${entry.selector}._domainkey.${entry.domain}`);
    }
    expect(relayConfigOf(runs.rotation1, '/mxkit/mxkit/prod/relay.json').dkim.map((d) => d.selector)).toEqual(['mx1', 'mx2']);
    expect(relayConfigOf(runs.rotation2, '/mxkit/mxkit/prod/relay.json').dkim.map((d) => d.selector)).toEqual(['mx2', 'mx1']);
    expect(published(runs.rotation3)).toEqual(['mx2._domainkey.example.com']);
  });

  test('keeps each key\'s identity: adding and reordering selectors replaces no key, the last step deletes only the old one', () => {
    expect(changes(runs.one, runs.rotation1).deleted).toEqual([]);
    const keyOf = (run: Snapshot, selector: string) => named(run, `mxkit-dkim-${selector}-rsa`);
    expect(keyOf(runs.rotation1, 'mx1').urn).toBe(keyOf(runs.one, 'mx1').urn);
    expect(keyOf(runs.rotation2, 'mx2').inputs).toEqual(keyOf(runs.rotation1, 'mx2').inputs);
    expect(changes(runs.rotation1, runs.rotation2).deleted).toEqual([]);
    expect(changes(runs.rotation2, runs.rotation3).deleted).toEqual(['mxkit-dkim-mx1', 'mxkit-dkim-mx1-rsa', 'mxkit-dns-dkim-mx1', 'mxkit-shared-dkim-example-com-mx1-key']);
  });

  test('switches signing keys (step 2) on the running host; adding or dropping a key (steps 1, 3) changes the files it reads, so a new instance', () => {
    const instanceChanged = (before: Snapshot, after: Snapshot) => changes(before, after).changed.includes('mxkit-host-vm');
    expect(changes(runs.rotation1, runs.rotation2).changed).toContain('mxkit-config-reload');
    expect(instanceChanged(runs.rotation1, runs.rotation2)).toBe(false);
    expect(instanceChanged(runs.one, runs.rotation1)).toBe(true);
    expect(instanceChanged(runs.rotation2, runs.rotation3)).toBe(true);
  });

  test('protects the signing key only, so the last step may delete the old one', () => {
    const isProtected = (run: Snapshot, selector: string) => named(run, `mxkit-dkim-${selector}-rsa`).protect;
    expect([isProtected(runs.rotation1, 'mx1'), isProtected(runs.rotation1, 'mx2')]).toEqual([true, false]);
    expect([isProtected(runs.rotation2, 'mx1'), isProtected(runs.rotation2, 'mx2')]).toEqual([false, true]);
  });

  test('takes over the key and record a single-key stack made under their old names (no new key on upgrade)', () => {
    expect(named(runs.one, 'mxkit-dkim-mx1', 'mxkit:dkim:DkimKey').aliases).toEqual(['mxkit-dkim']);
    expect(named(runs.one, 'mxkit-dns-dkim-mx1').aliases).toContain('mxkit-dns-dkim');
    expect(named(runs.rotation2, 'mxkit-dns-dkim-mx1').aliases).not.toContain('mxkit-dns-dkim');
    expect(named(runs.rotation2, 'mxkit-dkim-mx1', 'mxkit:dkim:DkimKey').aliases).toEqual([]);
  });
});
