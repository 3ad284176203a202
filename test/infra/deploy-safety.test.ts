/**
 * What keeps a `pulumi up` from taking a running deployment down: the engine's view simulated with
 * mocks (preview vs up, state kept by ignoreChanges, what the DNS zone already holds).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { bundleObjectKey, MissingBundleError, RelayDeployment } from '../../infra/components/deployment';
import { MailServer, type MailServerArgs } from '../../infra/mail-server';
import { installMocks, MOCK_SUBNET, resolve, settle, type MockOptions, type MockRun } from './helpers/mocks';
import type { ChildReport } from './helpers/program-child';
import { ROOT } from './helpers/stack';

const ZONE = '0123456789abcdef0123456789abcdef';
const bundleDir = mkdtempSync(path.join(tmpdir(), 'mxkit-bundles-'));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));
const bundle = (text: string) => {
  const file = path.join(bundleDir, `${text.length}.js`);
  writeFileSync(file, text);
  return file;
};
const deploymentArgs = { ephemeral: true };
const hostParameters = { parameterPrefix: '/mxkit/mxkit/c', parameterNames: ['relay.json'] };
const serverArgs = (overrides: Partial<MailServerArgs> = {}): MailServerArgs => ({
  domain: 'example.org',
  cloudflareZoneId: ZONE,
  tls: 'self-signed',
  ephemeral: true,
  bundlePath: bundle('console.log("relay");\n'),
  ...overrides,
});

/** Runs `body` against fresh mocks; the Pulumi runtime is global, so tests here run one after another. */
function withMocks(options: MockOptions, project = 'mxkit'): () => MockRun {
  let run: MockRun;
  beforeAll(() => {
    run = installMocks(project, 'safety', options);
  });
  return () => run;
}
const mine = (run: MockRun, prefix: string) => run.resources.filter((r) => r.name.startsWith(prefix));
const oneOf = (run: MockRun, prefix: string, type: string) => {
  const found = mine(run, prefix).filter((r) => r.type === type);
  if (found.length !== 1) throw new Error(`expected one ${type} under ${prefix}, found ${found.length}`);
  return found[0];
};

describe('pulumi up without a built bundle', () => {
  const run = withMocks({ preview: false });

  test('stops before registering anything, instead of replacing the host with one that cannot start', async () => {
    expect(() => new RelayDeployment('nobundle', { ...deploymentArgs, bundlePath: '/nonexistent/dist/mxkit.js' })).toThrow(MissingBundleError);
    await settle(run());
    expect(mine(run(), 'nobundle').filter((r) => !r.type.startsWith('mxkit:'))).toEqual([]);
  });
});

describe('pulumi preview without a built bundle', () => {
  const run = withMocks({ preview: true });

  test('warns that up will refuse to run', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(pulumi.log, 'warn').mockImplementation(async (message: string) => void warnings.push(message));
    try {
      new RelayDeployment('preview', { ...deploymentArgs, bundlePath: '/nonexistent/dist/mxkit.js' });
      await settle(run());
    } finally {
      warn.mockRestore();
    }
    expect(warnings).toEqual([expect.stringContaining('/nonexistent/dist/mxkit.js does not exist (mxkit:bundlePath): run `npm run build` first; this preview shows a stand-in, and `pulumi up` will refuse')]);
  });
});

describe('a new bundle', () => {
  const run = withMocks({});

  test('is a new object next to the old one, and the role may read both while the host is replaced', async () => {
    const oldBundle = bundle('console.log("v1");\n');
    const newBundle = bundle('console.log("version 2");\n');
    const first = new RelayDeployment('v1', { ...deploymentArgs, bundlePath: oldBundle });
    const second = new RelayDeployment('v2', { ...deploymentArgs, bundlePath: newBundle });
    await resolve(second.userDataFor(hostParameters));
    await settle(run());
    const keyOf = (prefix: string) => String(oneOf(run(), prefix, 'aws:s3/bucketObjectv2:BucketObjectv2').plain.key);
    expect(keyOf('v1')).toBe(bundleObjectKey(String(first.bundleSha256)));
    expect(keyOf('v2')).toBe(bundleObjectKey(String(second.bundleSha256)));
    expect(keyOf('v1')).not.toBe(keyOf('v2'));
    const readable = (await resolve(first.objectArns[0])).value;
    expect(readable).toMatch(/^arn:aws:s3:::mxkit-safety-mock\/relay\/\*$/);
  });
});

describe('the spool volume zone, once the volume exists', () => {
  // The engine keeps the zone the volume was created in (ignoreChanges); the lookup now prefers another.
  const run = withMocks({ zones: ['eu-west-1a', 'eu-west-1b'], existingState: { 'kept-host-spool': { availabilityZone: 'eu-west-1b' }, 'asked-host-spool': { availabilityZone: 'eu-west-1b' } } });

  test('does not follow a different answer from the zone lookup: the instance goes where the volume is', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(pulumi.log, 'warn').mockImplementation(async (message: string) => void warnings.push(message));
    try {
      const server = new MailServer('kept', serverArgs());
      await resolve(server.instanceId);
      await settle(run());
    } finally {
      warn.mockRestore();
    }
    expect(oneOf(run(), 'kept', 'aws:ebs/volume:Volume').ignoreChanges).toEqual(['availabilityZone']);
    expect(oneOf(run(), 'kept', 'aws:ec2/instance:Instance').plain.availabilityZone).toBe('eu-west-1b');
    expect(warnings).toEqual([]);
  });

  test('says so when mxkit:availabilityZone asks for another zone', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(pulumi.log, 'warn').mockImplementation(async (message: string) => void warnings.push(message));
    try {
      const server = new MailServer('asked', serverArgs({ availabilityZone: 'eu-west-1c' }));
      await resolve(server.instanceId);
      await settle(run());
    } finally {
      warn.mockRestore();
    }
    expect(oneOf(run(), 'asked', 'aws:ec2/instance:Instance').plain.availabilityZone).toBe('eu-west-1b');
    expect(warnings).toEqual([expect.stringContaining('the spool volume is in eu-west-1b, not eu-west-1c: a volume cannot change zones')]);
  });
});

describe('a deployment into a subnet, with a pinned AMI, in another project', () => {
  const run = withMocks({ latestAmi: 'ami-0ffffffffffffffff' }, 'othermail');

  test('launches in the subnet and its VPC and zone, on the pinned image', async () => {
    const server = new MailServer('vpc', serverArgs({ subnetId: MOCK_SUBNET.id, ami: 'ami-0aaaaaaaaaaaaaaaa' }));
    await resolve(server.instanceId);
    await settle(run());
    expect(oneOf(run(), 'vpc', 'aws:ec2/instance:Instance').plain).toMatchObject({ subnetId: MOCK_SUBNET.id, availabilityZone: MOCK_SUBNET.availabilityZone, ami: 'ami-0aaaaaaaaaaaaaaaa' });
    expect(oneOf(run(), 'vpc', 'aws:ec2/securityGroup:SecurityGroup').plain.vpcId).toBe(MOCK_SUBNET.vpcId);
    expect(oneOf(run(), 'vpc', 'aws:ebs/volume:Volume').plain.availabilityZone).toBe(MOCK_SUBNET.availabilityZone);
  });

  test('takes the newest Amazon Linux image when none is pinned', async () => {
    const server = new MailServer('fresh', serverArgs());
    await resolve(server.instanceId);
    await settle(run());
    expect(oneOf(run(), 'fresh', 'aws:ec2/instance:Instance').plain.ami).toBe('ami-0ffffffffffffffff');
  });

  test('keeps its secrets under its own project, apart from a same-named stack of another project', async () => {
    await settle(run());
    const names = mine(run(), 'fresh').filter((r) => r.type === 'aws:ssm/parameter:Parameter').map((r) => String(r.plain.name));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name.startsWith('/mxkit/othermail/safety/')).toBe(true);
  });
});

describe('a zone that already holds mail records', () => {
  const runChild = (zoneRecords: MockOptions['zoneRecords']): ChildReport => {
    const result = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'test/infra/helpers/program-child.ts', 'dev', JSON.stringify({ mockOptions: { zoneRecords } })], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const line = result.stdout.split('\n').find((text) => text.startsWith('{'));
    if (!line) throw new Error(`no report from the program run: ${result.stderr}`);
    return JSON.parse(line) as ChildReport;
  };

  test('stops the program before publishing any record, naming each one that would break mail', () => {
    const report = runChild([
      { name: 'dev.example.com', type: 'MX', content: 'mx.parking.example' },
      { name: 'dev.example.com', type: 'TXT', content: '"v=spf1 include:_spf.parking.example ~all"' },
      { name: 'dev.example.com', type: 'TXT', content: '"google-site-verification=abc"' },
      { name: 'mail.dev.example.com', type: 'CNAME', content: 'ghs.example' },
      { name: '_dmarc.example.net', type: 'TXT', content: '"v=DMARC1; p=none"' },
    ]);
    expect(report.failures.length).toBeGreaterThan(0);
    const message = report.failures[0];
    expect(message).toContain('already holds records that would break mail next to ours');
    expect(message).toContain('dev.example.com MX mx.parking.example: another MX');
    expect(message).toContain('dev.example.com TXT "v=spf1 include:_spf.parking.example ~all": two SPF records');
    expect(message).toContain('mail.dev.example.com CNAME ghs.example: a CNAME');
    expect(message).not.toContain('google-site-verification');
    expect(message).not.toContain('example.net');
    const published = report.registered.filter((r) => r.type === 'cloudflare:index/dnsRecord:DnsRecord' || r.type === 'aws:ec2/eipDomainName:EipDomainName');
    expect(published).toEqual([]);
  });

  test('publishes beside its own earlier records and unrelated ones', () => {
    const report = runChild([
      { name: 'dev.example.com', type: 'MX', content: 'mail.dev.example.com', comment: 'mxkit dev: mx' },
      { name: 'dev.example.com', type: 'TXT', content: '"google-site-verification=abc"' },
    ]);
    expect(report.failures).toEqual([]);
    expect(report.registered.filter((r) => r.type === 'cloudflare:index/dnsRecord:DnsRecord').length).toBeGreaterThan(5);
  });
});
