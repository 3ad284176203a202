import { BUNDLE_TYPES, COMPONENT_TYPES, CUSTOM_TYPES_ALWAYS, describeStackProgram, parameter, recordsOf, userDataOf } from './helpers/invariants';
import { one } from './helpers/stack';

describeStackProgram('dev', (get) => {
  test('builds a self-signed, bundle-based deployment with exactly the expected resource types', () => {
    const types = new Set(get().resources.map((r) => r.type));
    expect([...types].sort()).toEqual(
      [...CUSTOM_TYPES_ALWAYS, ...BUNDLE_TYPES, ...COMPONENT_TYPES, 'pulumi:providers:cloudflare', 'tls:index/selfSignedCert:SelfSignedCert'].sort(),
    );
  });

  test('runs a small arm64 instance on the Amazon Linux 2023 AMI in the first zone offering it', () => {
    expect(one(get(), 'aws:ec2/instance:Instance').plain).toMatchObject({
      instanceType: 't4g.micro',
      ami: 'ami-0123456789abcdef0',
      availabilityZone: 'eu-west-1a',
    });
    expect(one(get(), 'aws:ebs/volume:Volume').plain).toMatchObject({ availabilityZone: 'eu-west-1a', size: 8 });
  });

  test('makes a self-signed certificate for the host name and stores its key in SSM', () => {
    expect(one(get(), 'tls:index/selfSignedCert:SelfSignedCert').plain).toMatchObject({ dnsNames: ['mail.dev.example.com'] });
    expect(parameter(get(), 'tls.key')).toBeDefined();
    expect(parameter(get(), 'tls.crt')).toBeDefined();
    expect(parameter(get(), 'acme-account.key')).toBeUndefined();
  });

  test('gives the relay config parameter room to grow (advanced tier) and keeps the keys standard', () => {
    expect(parameter(get(), 'relay.json')?.plain.tier).toBe('Advanced');
    expect(parameter(get(), 'dkim-dev.example.com-dev1.key')?.plain.tier).toBe('Standard');
  });

  test('publishes DMARC p=none and no MTA-STS or CAA (no publicly trusted certificate)', () => {
    const records = recordsOf(get());
    expect(records.find((r) => r.name === '_dmarc.dev.example.com')?.content).toBe('"v=DMARC1; p=none; rua=mailto:dmarc-reports@dev.example.com,mailto:dmarc@example.com"');
    expect(records.filter((r) => r.type === 'CAA' || String(r.name).includes('mta-sts'))).toEqual([]);
    expect(records.find((r) => r.type === 'MX')).toMatchObject({ name: 'dev.example.com', content: 'mail.dev.example.com', priority: 10 });
  });

  test('runs the uploaded bundle in the pinned Node.js 22 image with only the capability to bind low ports', () => {
    const userData = userDataOf(get());
    expect(userData).toMatch(/^#cloud-config\n/);
    expect(userData).toMatch(/node:22-bookworm-slim@sha256:[a-f0-9]{64}/);
    expect(userData).toContain('--read-only --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges');
    expect(userData).toContain('Restart=always');
    expect(userData).toMatch(/MXKIT_BUNDLE_S3="s3:\/\/mxkit-dev-[a-z0-9-]*\/relay\/mxkit-[a-f0-9]{64}\.js"/);
    expect(userData).toContain('MXKIT_PARAMETER_PREFIX="/mxkit/mxkit/dev"');
  });

  test('uploads the bundle to a private, encrypted bucket that an ephemeral stack may delete', () => {
    const run = get();
    expect(one(run, 'aws:s3/bucket:Bucket').plain).toMatchObject({ forceDestroy: true });
    expect(one(run, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').plain).toMatchObject({
      blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
    });
    expect(one(run, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').plain.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } },
    ]);
    expect(one(run, 'aws:s3/bucketObjectv2:BucketObjectv2').plain).toMatchObject({ key: expect.stringMatching(/^relay\/mxkit-[a-f0-9]{64}\.js$/), serverSideEncryption: 'AES256' });
  });
});
