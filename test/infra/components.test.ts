/**
 * Components on their own (no stack file), as another Pulumi program would use them.
 */
import * as path from 'node:path';
import * as deployment from '../../infra/components/deployment';
import * as mailServer from '../../infra/mail-server';
import { installMocks, resolve, settle, type MockRun } from './helpers/mocks';

// Importing components registers nothing; resources are made only by the tests, after setMocks.
const components = { ...mailServer, ...deployment };
let run: MockRun;

beforeAll(() => {
  run = installMocks('mxkit', 'components');
});

const registered = (prefix: string) => run.resources.filter((r) => r.name.startsWith(prefix));

describe('MailServer as a reusable component', () => {
  test('stands up an IDN domain with A-label records and host name', async () => {
    const server = new components.MailServer('idn', {
      domain: 'bücher.example',
      cloudflareZoneId: '0123456789abcdef0123456789abcdef',
      tls: 'self-signed',
      ephemeral: true,
      bundlePath: __filename,
    });
    const records = (await resolve(server.records)).value;
    expect(server.hostname).toBe('mail.xn--bcher-kva.example');
    expect(records.find((r) => r.type === 'MX')).toMatchObject({ name: 'xn--bcher-kva.example', value: 'mail.xn--bcher-kva.example' });
    await settle(run);
    expect(registered('idn').find((r) => r.type === 'aws:ec2/eipDomainName:EipDomainName')?.plain.domainName).toBe('mail.xn--bcher-kva.example');
  });

  test("points DMARC at the relay's report mailbox and a second address, and publishes only its own zone's records", async () => {
    const server = new components.MailServer('reports', {
      domain: 'reports.example',
      cloudflareZoneId: '0123456789abcdef0123456789abcdef',
      tls: 'self-signed',
      ephemeral: true,
      reportsTo: 'agg@dmarc-service.example.net',
      bundlePath: __filename,
    });
    const records = (await resolve(server.records)).value;
    expect(records.find((r) => r.key === 'dmarc')?.value).toBe('v=DMARC1; p=none; rua=mailto:dmarc-reports@reports.example,mailto:agg@dmarc-service.example.net');
    expect(records.find((r) => r.key === 'dmarc-report-auth-0')).toMatchObject({ name: 'reports.example._report._dmarc.dmarc-service.example.net', external: true });
    expect((await resolve(server.relayConfig)).value).toMatchObject({ reports: { dmarc: ['dmarc-reports@reports.example'], tlsRpt: ['tls-reports@reports.example'], complaints: ['abuse@reports.example'] } });
    await settle(run);
    const published = registered('reports').filter((r) => r.type === 'cloudflare:index/dnsRecord:DnsRecord').map((r) => String(r.plain.name));
    expect(published).toContain('_dmarc.reports.example');
    expect(published.filter((name) => name.includes('._report._dmarc.'))).toEqual([]);
  });

  test('runs a prebuilt relay image without a bucket, and the role then reads no S3 object', async () => {
    const server = new components.MailServer('img', {
      domain: 'example.org',
      cloudflareZoneId: '0123456789abcdef0123456789abcdef',
      tls: 'acme',
      acmeEmail: 'ops@example.org',
      ephemeral: true,
      relayImage: 'ghcr.io/example/mxkit-relay:0.1.0',
      bundlePath: '/unused',
    });
    await resolve(server.relayConfig);
    await settle(run);
    const mine = registered('img');
    expect(mine.filter((r) => r.type.startsWith('aws:s3/'))).toEqual([]);
    const userData = String(mine.find((r) => r.type === 'aws:ec2/instance:Instance')?.plain.userData);
    expect(userData).toMatch(/ghcr\.io\/example\/mxkit-relay:0\.1\.0 \\\n +relay --config \/run\/mxkit\/relay\.json/);
    expect(userData).not.toContain('node /opt/mxkit/mxkit.js');
    expect(userData).toContain('MXKIT_BUNDLE_S3=""');
    const policy = String(mine.find((r) => r.type === 'aws:iam/rolePolicy:RolePolicy')?.plain.policy);
    expect(policy).not.toContain('s3:');
  });
});

describe('MailServer with outbound ses', () => {
  test('refuses a hand-set smarthost or a missing region, naming the argument', () => {
    const base = { domain: 'example.org', cloudflareZoneId: '0123456789abcdef0123456789abcdef', tls: 'self-signed' as const, ephemeral: true, bundlePath: '/unused', outbound: 'ses' as const };
    expect(() => new components.MailServer('ses-bad-1', { ...base, region: 'eu-west-1', smarthost: { host: 'smtp.example.net', port: 587 } })).toThrow(/^smarthost: must not be set with outbound "ses"/);
    expect(() => new components.MailServer('ses-bad-2', base)).toThrow(/^region: is required with outbound "ses"/);
  });
});

describe('relay deployment', () => {
  test('changes the user data when the bundle changes, and only then', async () => {
    const { loadBundle } = components;
    const userData = async (name: string, bundlePath = __filename) =>
      (await resolve(new components.RelayDeployment(name, { bundlePath, ephemeral: true }).userDataFor({ parameterPrefix: '/mxkit/c', parameterNames: ['relay.json'] }))).value;
    const first = await userData('rev-a');
    expect(await userData('rev-b')).toBe(first);
    expect(await userData('rev-d', path.join(__dirname, 'config.test.ts'))).not.toBe(first);
    expect(first).toContain(`MXKIT_BUNDLE_SHA256="${loadBundle(__filename).sha256}"`);
  });

  test('derives a valid S3 bucket prefix from any stack name', () => {
    expect(components.bucketPrefix('prod')).toBe('mxkit-prod-');
    expect(components.bucketPrefix('Test_Alice.Long-Name-That-Goes-On-And-On-Forever')).toMatch(/^[a-z0-9-]{1,37}$/);
  });
});
