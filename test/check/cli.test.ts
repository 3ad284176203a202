/** `mxkit check` through the built bundle (`npm run build` first): output, --json shape, exit codes. */
import { BUNDLE } from '../helpers/child-relay';
import { run } from '../helpers/run';
import { BLOCKLIST, goodZone, startWorld, withRecord, type World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(() => world.stop());

async function check(zone: Parameters<World['dns']>[0], extra: string[] = []) {
  const dns = await world.dns(zone);
  const options = world.options(dns);
  return run(process.execPath, [
    BUNDLE, 'check',
    '--domain', options.domain,
    '--dns-server', dns.server,
    '--smtp-port', String(options.ports.smtp),
    '--submission-port', String(options.ports.submission),
    '--submissions-port', String(options.ports.submissions),
    '--https-port', String(options.ports.https),
    '--ca', world.caFile,
    '--closed-ports', String(world.closedPort),
    '--dnsbl', BLOCKLIST,
    '--relay-test-rcpt', options.relayTestRecipient,
    ...extra,
  ]);
}

describe('mxkit check (bundle)', () => {
  test('a correct deployment exits 0 and prints one PASS line per check and a summary', async () => {
    const result = await check(goodZone());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1).every((line) => line.startsWith('PASS '))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^PASS dns\.ptr\.127\.0\.0\.1 +PTR of 127\.0\.0\.1 is mail\.example\.test \(forward-confirmed\)$/));
    expect(lines.at(-1)).toBe(`example.test (mail.example.test 127.0.0.1): ${lines.length - 1} pass, 0 warn, 0 fail`);
  });

  test('a failing check exits 1 and its line carries the fix', async () => {
    const result = await check(goodZone({ dkim: undefined }));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL dns\.dkim +no DKIM record at mx1\._domainkey\.example\.test — fix: publish the DKIM key at mx1\._domainkey\.example\.test /m);
  });

  test('warnings alone exit 0: a blocklist that cannot be asked is "not checked"', async () => {
    const result = await check(goodZone(), ['--dnsbl', 'zen.spamhaus.org']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^WARN reputation\.zen\.spamhaus\.org\.127\.0\.0\.1 +127\.0\.0\.1 on zen\.spamhaus\.org: not checked \(EREFUSED\) — fix: /m);
  });

  test('--json prints the report for machines, with the same exit code', async () => {
    const result = await check(withRecord(goodZone(), 'example.test', 'TXT', 'v=spf1 ip4:192.0.2.1 -all'), ['--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['addresses', 'checks', 'domain', 'host', 'ok', 'summary']);
    expect(report).toMatchObject({ domain: 'example.test', host: 'mail.example.test', addresses: ['127.0.0.1'], ok: false, summary: { fail: 1, warn: 0 } });
    const checks = report.checks as Array<Record<string, unknown>>;
    for (const item of checks) {
      expect(Object.keys(item).sort()).toEqual(item.status === 'pass' ? ['category', 'id', 'status', 'summary'] : ['category', 'fix', 'id', 'status', 'summary']);
      expect(['dns', 'service', 'reputation']).toContain(item.category);
    }
    expect(checks.find((item) => item.status === 'fail')).toEqual({
      id: 'dns.spf.127.0.0.1',
      category: 'dns',
      status: 'fail',
      summary: expect.stringMatching(/^SPF gives fail for 127\.0\.0\.1/),
      fix: 'add ip4:127.0.0.1 to the SPF record of example.test (before the "all"): pulumi up publishes it',
    });
  });

  test('a missing --domain is a usage error (exit 64) naming the option', async () => {
    const result = await run(process.execPath, [BUNDLE, 'check', '--json']);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit check: --domain is required\nusage: mxkit check --domain D /);
  });

  test('a bad port option is a usage error naming the option', async () => {
    const result = await run(process.execPath, [BUNDLE, 'check', '--domain', 'example.test', '--smtp-port', '99999']);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^mxkit check: --smtp-port must be a port number \(1-65535\)\nusage: /);
  });
});
