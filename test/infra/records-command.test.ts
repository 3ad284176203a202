import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildRelayConfig, filesUnder } from '../../infra/builders/relay-config';
import { mtaStsId, mtaStsPolicy } from '../../infra/builders/records';
import { BUNDLE } from '../helpers/child-relay';
import { run as runProgram } from '../helpers/run';

const dir = mkdtempSync(path.join(tmpdir(), 'mxkit-records-'));
const files = filesUnder(dir, dir);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
writeFileSync(files.dkimKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
const configFile = path.join(dir, 'relay.json');
writeFileSync(
  configFile,
  JSON.stringify(
    buildRelayConfig({
      hostname: 'mail.example.com',
      domains: ['example.com'],
      files,
      dkimSelector: 'mx1',
      tls: { mode: 'acme', email: 'ops@example.com' },
      mtaSts: { mode: 'enforce', maxAge: '7d' },
    }),
  ),
);

/** `mxkit records` through the built bundle: exit code, stdout lines, stderr. */
async function run(...args: string[]): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const result = await runProgram(process.execPath, [BUNDLE, 'records', ...args]);
  return { code: result.code, lines: result.stdout === '' ? [] : result.stdout.replace(/\n$/, '').split('\n'), stderr: result.stderr };
}

describe('mxkit records', () => {
  test('prints a zone with the DKIM key derived from the configured key file', async () => {
    const { code, lines } = await run('--config', configFile, '--ip', '203.0.113.9');
    expect(code).toBe(0);
    const zone = lines.join('\n');
    expect(zone).toContain('example.com.\t3600\tIN\tMX\t10 mail.example.com.');
    expect(zone).toContain('example.com.\t3600\tIN\tTXT\t"v=spf1 ip4:203.0.113.9 -all"');
    const dkim = lines.find((l) => l.startsWith('mx1._domainkey.example.com.'));
    expect(dkim?.split('\t')[4].replace(/" "/g, '').replace(/"/g, '')).toBe(`v=DKIM1; k=rsa; p=${spki}`);
    expect(zone).toContain('mail.example.com.\t3600\tIN\tCAA\t0 issue "letsencrypt.org"');
    expect(zone).toMatch(/_mta-sts\.example\.com\.\t3600\tIN\tTXT\t"v=STSv1; id=[a-f0-9]{20}"/);
    // The config's submission listeners (587, 465) become the RFC 6186 / RFC 8314 SRV records.
    expect(zone).toContain('_submission._tcp.example.com.\t3600\tIN\tSRV\t0 1 587 mail.example.com.');
    expect(zone).toContain('_submissions._tcp.example.com.\t3600\tIN\tSRV\t0 1 465 mail.example.com.');
  });

  test('prints JSON records with --format json', async () => {
    const { code, lines } = await run('--config', configFile, '--ip=198.51.100.4', '--format', 'json', '--reports-to', 'dmarc@example.net');
    expect(code).toBe(0);
    const records = JSON.parse(lines.join('\n')) as { key: string; value: string }[];
    expect(records.find((r) => r.key === 'a')?.value).toBe('198.51.100.4');
    expect(records.find((r) => r.key === 'dmarc')?.value).toBe('v=DMARC1; p=none; rua=mailto:dmarc@example.net');
  });

  test("points rua and TLS-RPT at the relay's report mailboxes from its config, and prints another domain's authorisation record", async () => {
    const withReports = path.join(dir, 'relay-reports.json');
    const document = buildRelayConfig({ hostname: 'mail.example.com', domains: ['example.com'], files, dkimSelector: 'mx1', tls: { mode: 'self-signed' }, reports: { dmarc: ['dmarc-reports@example.com'], tlsRpt: ['tls-reports@example.com'], complaints: ['abuse@example.com'] } });
    writeFileSync(withReports, JSON.stringify(document));
    const { code, lines } = await run('--config', withReports, '--ip', '203.0.113.9', '--reports-to', 'agg@dmarc.example.net');
    expect(code).toBe(0);
    const zone = lines.join('\n');
    expect(zone).toContain('_dmarc.example.com.\t3600\tIN\tTXT\t"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com,mailto:agg@dmarc.example.net"');
    expect(zone).toContain('_smtp._tls.example.com.\t3600\tIN\tTXT\t"v=TLSRPTv1; rua=mailto:tls-reports@example.com,mailto:agg@dmarc.example.net"');
    expect(zone).toContain('; publish in the zone of dmarc.example.net (RFC 7489 7.1 report authorisation):\nexample.com._report._dmarc.dmarc.example.net.\t3600\tIN\tTXT\t"v=DMARC1"');
  });

  test('prints every DKIM key a domain lists (the signing one and those kept published while rotating), and the MTA-STS id of the policy file the relay serves', async () => {
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    writeFileSync(path.join(dir, 'next.key'), next.export({ type: 'pkcs8', format: 'pem' }));
    const policy = mtaStsPolicy('enforce', ['mail.example.com', 'mail2.example.com'], '7d');
    writeFileSync(path.join(dir, 'mta-sts.txt'), policy);
    const rotating = path.join(dir, 'rotating.json');
    writeFileSync(
      rotating,
      JSON.stringify(
        buildRelayConfig({
          hostname: 'mail.example.com',
          domains: ['example.com'],
          files,
          dkim: [
            { domain: 'example.com', selector: 'mx2', keyFile: path.join(dir, 'next.key') },
            { domain: 'example.com', selector: 'mx1', keyFile: files.dkimKey },
          ],
          tls: { mode: 'acme', email: 'ops@example.com' },
          mtaSts: { mode: 'enforce', maxAge: '7d' },
          mtaStsPolicyFile: path.join(dir, 'mta-sts.txt'),
        }),
      ),
    );
    const { code, lines } = await run('--config', rotating, '--ip', '203.0.113.9');
    expect(code).toBe(0);
    expect(lines.filter((l) => /_domainkey/.test(l)).map((l) => l.split('\t')[0])).toEqual(['mx2._domainkey.example.com.', 'mx1._domainkey.example.com.']);
    expect(lines.join('\n')).toContain(`_mta-sts.example.com.\t3600\tIN\tTXT\t"v=STSv1; id=${mtaStsId(policy)}"`);
  });

  test('a usage error exits 64 with the problem and the usage on stderr, nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [[], /^mxkit records: --config is required\nusage: mxkit records --config FILE/],
      [['--config', configFile, '--format', 'xml'], /^mxkit records: --format must be zone or json\n/],
      [['--config', configFile, '--ip', 'nope'], /^mxkit records: --ip nope is not an IPv4 address\n/],
      [['--config', configFile, '--bogus'], /^mxkit records: unknown option --bogus\n/],
    ];
    for (const [args, message] of cases) {
      const { code, lines, stderr } = await run(...args);
      expect({ args, code, lines }).toEqual({ args, code: 64, lines: [] });
      expect(stderr).toMatch(message);
    }
  });

  test('a config that cannot be read or is wrong exits 1 with one line naming the file or field', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ hostname: 'mail.example.com', domains: [], listen: {}, spoolDir: '/x' }));
    const missing = await run('--config', path.join(dir, 'missing.json'), '--ip', '192.0.2.1');
    expect(missing).toMatchObject({ code: 1, lines: [] });
    expect(missing.stderr).toMatch(/^mxkit: config error: --config: cannot read .*missing\.json: ENOENT\n$/);
    const wrong = await run('--config', bad, '--ip', '192.0.2.1');
    expect(wrong).toEqual({ code: 1, lines: [], stderr: 'mxkit: config error: domains: must list at least one mail domain\n' });
  });
});

describe('the relay CLI bundle', () => {
  test('can include the records command without pulling in Pulumi', async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [path.join(__dirname, '../../relay/src/commands/records.ts')],
      bundle: true,
      platform: 'node',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((file) => file.includes('@pulumi') || file.includes('infra/components'))).toEqual([]);
    expect(inputs).toEqual(expect.arrayContaining([expect.stringContaining('relay/src/config/schema.ts')]));
  });
});
