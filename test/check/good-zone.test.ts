import { runChecks } from '../../relay/src/check/run-checks';
import { goodZone, startWorld, type World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(() => world.stop());

describe('mxkit check against a correct zone and a real relay', () => {
  test('every DNS, service and reputation check passes', async () => {
    const dns = await world.dns(goodZone());
    const report = await runChecks(world.options(dns));
    const notPassing = report.checks.filter((check) => check.status !== 'pass');
    expect(notPassing).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.host).toBe('mail.example.test');
    expect(report.addresses).toEqual(['127.0.0.1']);
  });

  test('each area the issue names is checked, not just some of them', async () => {
    const dns = await world.dns(goodZone());
    const report = await runChecks(world.options(dns));
    const ids = report.checks.map((check) => check.id);
    expect(ids).toEqual([
      'dns.mx',
      'dns.a',
      'dns.ptr.127.0.0.1',
      'dns.spf',
      'dns.spf.127.0.0.1',
      'dns.dkim',
      'dns.dmarc',
      'dns.mta-sts',
      'dns.mta-sts-policy',
      'dns.tls-rpt',
      'dns.caa',
      'service.smtp.127.0.0.1',
      'service.starttls.127.0.0.1',
      'service.tls-certificate.127.0.0.1',
      'service.tls-version.127.0.0.1',
      'service.tls-expiry.127.0.0.1',
      'service.submission.127.0.0.1',
      'service.submissions.127.0.0.1',
      'service.open-relay.127.0.0.1',
      `service.closed-port-${world.closedPort}.127.0.0.1`,
      'reputation.bl.test.127.0.0.1',
    ]);
  });

  test('the summaries say what was found: the DMARC policy, the key size, the days to expiry', async () => {
    const dns = await world.dns(goodZone());
    const report = await runChecks(world.options(dns));
    const summary = (id: string) => report.checks.find((check) => check.id === id)?.summary;
    expect(summary('dns.dmarc')).toBe('DMARC policy of example.test: p=quarantine');
    expect(summary('dns.dkim')).toBe('DKIM key at mx1._domainkey.example.test: rsa 2048 bits');
    expect(summary('service.tls-expiry.127.0.0.1')).toMatch(/expires in 36[45] days/);
    expect(summary('dns.mta-sts-policy')).toMatch(/mode enforce, mx mail\.example\.test/);
  });
});
