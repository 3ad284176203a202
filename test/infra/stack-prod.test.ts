import { parseRelayConfig } from '../../relay/src/config/schema';
import { BUNDLE_TYPES, COMPONENT_TYPES, CUSTOM_TYPES_ALWAYS, describeStackProgram, parameter, recordsOf } from './helpers/invariants';
import { one, ofType, TEST_ALERTS_WEBHOOK } from './helpers/stack';

describeStackProgram('prod', (get) => {
  test('builds an ACME deployment with exactly the expected resource types (no certificate made by Pulumi)', () => {
    const types = new Set(get().resources.map((r) => r.type));
    expect([...types].sort()).toEqual([...CUSTOM_TYPES_ALWAYS, ...BUNDLE_TYPES, ...COMPONENT_TYPES, 'pulumi:providers:cloudflare'].sort());
  });

  test('makes an ACME account key (stored as a secret) and a DKIM key, both RSA-2048, and an Ed25519 key as the SRS secret', () => {
    const keys = ofType(get(), 'tls:index/privateKey:PrivateKey');
    expect(keys.map((k) => k.name).sort()).toEqual(['mxkit-dkim-mx1-rsa', 'mxkit-srs', 'mxkit-tls-acme-account']);
    for (const key of keys.filter((k) => k.name !== 'mxkit-srs')) expect(key.plain).toMatchObject({ algorithm: 'RSA', rsaBits: 2048 });
    expect(keys.find((k) => k.name === 'mxkit-srs')?.plain).toMatchObject({ algorithm: 'ED25519' });
    expect(parameter(get(), 'acme-account.key')).toBeDefined();
    expect(parameter(get(), 'tls.key')).toBeUndefined();
  });

  test('publishes CAA for Let\'s Encrypt on the mail host names, MTA-STS, TLS-RPT and DMARC p=none, as docs/deploy.md advises to start', () => {
    const records = recordsOf(get());
    const caa = records.filter((r) => r.type === 'CAA');
    expect(caa.map((r) => r.name).sort()).toEqual(['mail.example.com', 'mta-sts.example.com']);
    for (const record of caa) expect(record).toMatchObject({ data: { flags: 0, tag: 'issue', value: 'letsencrypt.org' } });
    expect(records.find((r) => r.name === '_mta-sts.example.com')?.content).toMatch(/^"v=STSv1; id=[a-f0-9]{20}"$/);
    expect(records.find((r) => r.name === 'mta-sts.example.com' && r.type === 'A')).toMatchObject({ proxied: false });
    expect(records.find((r) => r.name === '_smtp._tls.example.com')?.content).toBe('"v=TLSRPTv1; rua=mailto:tls-reports@example.com"');
    expect(records.find((r) => r.name === '_dmarc.example.com')?.content).toBe('"v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"');
  });

  test('configures the relay for Let\'s Encrypt production, MTA-STS testing and the configured routes', () => {
    const config = parseRelayConfig(JSON.parse(String(parameter(get(), 'relay.json')?.plain.value)));
    expect(config.tls?.acme).toMatchObject({
      directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
      email: 'ops@example.com',
      names: ['mail.example.com', 'mta-sts.example.com'],
    });
    expect(config.mtaSts).toEqual({ mode: 'testing', maxAge: '7d', policyFile: '/run/mxkit/mta-sts.txt' });
    expect(config.routes.map((r) => r.match)).toEqual(['postmaster@example.com', 'dmarc@example.com', '*@example.com']);
    // The relay keeps the reports its records ask for, and posts alerts to the (secret) webhook.
    expect(config.reports).toMatchObject({ dmarc: ['dmarc-reports@example.com'], tlsRpt: ['tls-reports@example.com'], complaints: ['abuse@example.com'] });
    expect(config.alerts?.webhook).toBe(TEST_ALERTS_WEBHOOK);
  });

  test('opens no SSH port and keeps the bundle bucket on destroy unless emptied', () => {
    const rules = one(get(), 'aws:ec2/securityGroup:SecurityGroup').plain.ingress as { fromPort: number }[];
    expect(rules.map((r) => r.fromPort)).not.toContain(22);
    expect(one(get(), 'aws:s3/bucket:Bucket').plain.forceDestroy).toBe(false);
    expect(one(get(), 'aws:ebs/volume:Volume').plain.size).toBe(20);
  });
});
