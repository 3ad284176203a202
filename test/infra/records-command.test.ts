import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runRecordsCommand } from '../../infra/builders/records-command';
import { buildRelayConfig, filesUnder } from '../../infra/builders/relay-config';
import { mtaStsId, mtaStsPolicy } from '../../infra/builders/records';

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

async function run(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runRecordsCommand(args, (line) => lines.push(line));
  return { code, lines };
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

  test('fails with one line naming the problem', async () => {
    const cases: [string[], number, RegExp][] = [
      [[], 2, /^mxkit records: --config is required \(usage: /],
      [['--config', configFile, '--format', 'xml'], 2, /--format must be zone or json/],
      [['--config', configFile, '--ip', 'nope'], 2, /--ip nope is not an IPv4 address/],
      [['--config', configFile, '--bogus'], 2, /unknown argument --bogus/],
      [['--config', path.join(dir, 'missing.json'), '--ip', '192.0.2.1'], 1, /cannot read .*missing\.json: ENOENT/],
    ];
    for (const [args, expected, message] of cases) {
      const { code, lines } = await run(...args);
      expect({ args, code, count: lines.length }).toEqual({ args, code: expected, count: 1 });
      expect(lines[0]).toMatch(message);
    }
  });

  test('names the relay config field that is wrong', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ hostname: 'mail.example.com', domains: [], listen: {}, spoolDir: '/x' }));
    const { code, lines } = await run('--config', bad, '--ip', '192.0.2.1');
    expect(code).toBe(1);
    expect(lines).toEqual(['mxkit records: domains: must list at least one mail domain']);
  });
});

describe('the relay CLI bundle', () => {
  test('can include the records command without pulling in Pulumi', async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [path.join(__dirname, '../../infra/builders/records-command.ts')],
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
