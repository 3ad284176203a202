/**
 * What must hold for every stack file: the program builds, and its resources keep the security and
 * deliverability invariants of issue 4. Each stack test file calls describeStackProgram once (one
 * program run per file: the Pulumi runtime is process-global).
 */
import { createPublicKey } from 'node:crypto';
import { parseRelayConfig } from '../../../relay/src/config/schema';
import { REDACTED } from '../../../infra/builders/relay-config';
import { MAIL_PORTS } from '../../../infra/components/host';
import { isSecretValue, mockKeyPair, MOCK_PUBLIC_IP } from './mocks';
import { one, ofType, runProgram, type ProgramRun } from './stack';

type Rule = { fromPort: number; toPort: number; protocol: string; cidrBlocks?: string[]; ipv6CidrBlocks?: string[] };
type Statement = { Action: string[]; Resource: string | string[] };

export const CUSTOM_TYPES_ALWAYS = [
  'aws:ebs/volume:Volume',
  'aws:ec2/eip:Eip',
  'aws:ec2/eipAssociation:EipAssociation',
  'aws:ec2/eipDomainName:EipDomainName',
  'aws:ec2/instance:Instance',
  'aws:ec2/securityGroup:SecurityGroup',
  'aws:ec2/volumeAttachment:VolumeAttachment',
  'aws:iam/instanceProfile:InstanceProfile',
  'aws:iam/role:Role',
  'aws:iam/rolePolicy:RolePolicy',
  'aws:ssm/parameter:Parameter',
  'aws:ssm/document:Document',
  'aws:ssm/association:Association',
  'cloudflare:index/dnsRecord:DnsRecord',
  'tls:index/privateKey:PrivateKey',
];
export const BUNDLE_TYPES = [
  'aws:s3/bucket:Bucket',
  'aws:s3/bucketObjectv2:BucketObjectv2',
  'aws:s3/bucketOwnershipControls:BucketOwnershipControls',
  'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock',
  'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
];
export const COMPONENT_TYPES = [
  'mxkit:configPush:ConfigPush',
  'mxkit:deployment:RelayDeployment',
  'mxkit:dkim:DkimKey',
  'mxkit:dns:MailDns',
  'mxkit:host:MailHost',
  'mxkit:index:MailServer',
  'mxkit:secrets:SecretStore',
  'mxkit:tls:TlsMaterial',
];

/** What `mxkit:outbound ses` adds (components/ses.ts); nothing of it exists with `direct`. */
export const SES_TYPES = [
  'aws:iam/accessKey:AccessKey',
  'aws:iam/user:User',
  'aws:iam/userPolicy:UserPolicy',
  'aws:sesv2/emailIdentity:EmailIdentity',
  'aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes',
  'mxkit:ses:SesOutbound',
];

const bucketName = (run: ProgramRun) => {
  const buckets = ofType(run, 'aws:s3/bucket:Bucket');
  return buckets.length === 1 ? `${String(buckets[0].plain.bucketPrefix)}mock` : '(no bucket)';
};
export const userDataOf = (run: ProgramRun) => String(one(run, 'aws:ec2/instance:Instance').plain.userData);
export const recordsOf = (run: ProgramRun) => ofType(run, 'cloudflare:index/dnsRecord:DnsRecord').map((r) => r.plain);
export const parameter = (run: ProgramRun, file: string) =>
  ofType(run, 'aws:ssm/parameter:Parameter').find((p) => String(p.plain.name).endsWith(`/${file}`));

export function describeStackProgram(stack: string, specific: (get: () => ProgramRun) => void): void {
  describe(`the program on stack ${stack}`, () => {
    let run: ProgramRun;
    const get = () => run;
    beforeAll(async () => {
      run = await runProgram(stack);
    });

    test('exports the contract outputs and nothing else', () => {
      expect(Object.keys(run.outputs).sort()).toEqual(['dkimSelector', 'hostname', 'hosts', 'instanceId', 'publicIp', 'records', 'relayConfig', 'ses', 'submission']);
      expect(run.outputs.publicIp.value).toBe(MOCK_PUBLIC_IP);
      expect(run.outputs.instanceId).toEqual({ value: 'mxkit-host-vm-id', secret: false });
      expect(run.outputs.submission.value).toBe(`${String(run.outputs.hostname.value)}:587`);
    });

    test('requires IMDSv2 tokens on the instance, with a hop limit of 2', () => {
      expect(one(run, 'aws:ec2/instance:Instance').plain.metadataOptions).toEqual({ httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 2 });
    });

    test('encrypts the gp3 root volume and the spool volume', () => {
      const instance = one(run, 'aws:ec2/instance:Instance').plain;
      expect(instance.rootBlockDevice).toMatchObject({ encrypted: true, volumeType: 'gp3' });
      expect(instance.ebsBlockDevices).toBeUndefined();
      for (const volume of ofType(run, 'aws:ebs/volume:Volume')) expect(volume.plain).toMatchObject({ encrypted: true, type: 'gp3' });
    });

    test('lets in only the mail ports from anywhere, and SSH only from mxkit:sshCidr', () => {
      const rules = one(run, 'aws:ec2/securityGroup:SecurityGroup').plain.ingress as Rule[];
      const open = rules.filter((r) => r.cidrBlocks?.includes('0.0.0.0/0') || r.ipv6CidrBlocks?.includes('::/0'));
      expect(open.map((r) => [r.fromPort, r.toPort, r.protocol])).toEqual(MAIL_PORTS.map((p) => [p, p, 'tcp']));
      const other = rules.filter((r) => !open.includes(r));
      const sshCidr = run.config['mxkit:sshCidr'];
      expect(other).toEqual(sshCidr ? [expect.objectContaining({ fromPort: 22, toPort: 22, protocol: 'tcp', cidrBlocks: [sshCidr] })] : []);
    });

    test('stores every SSM parameter as a SecureString whose value is a Pulumi secret, under /mxkit/<project>/<stack>/', () => {
      const parameters = ofType(run, 'aws:ssm/parameter:Parameter');
      expect(parameters.length).toBeGreaterThanOrEqual(2);
      for (const p of parameters) {
        expect(p.plain.type).toBe('SecureString');
        expect(String(p.plain.name).startsWith(`/mxkit/mxkit/${stack}/`)).toBe(true);
        expect(isSecretValue(p.inputs.value)).toBe(true);
      }
    });

    test('keeps secret text out of the user data and of every plain output', () => {
      const userData = userDataOf(run);
      const plainOutputs = JSON.stringify(Object.values(run.outputs).filter((o) => !o.secret).map((o) => o.value));
      for (const secret of run.secretTexts) {
        expect(userData).not.toContain(secret);
        expect(plainOutputs).not.toContain(secret);
      }
      expect(userData).not.toContain('PRIVATE KEY');
      expect(plainOutputs).not.toContain('PRIVATE KEY');
    });

    test('passes the Cloudflare API token to the provider only as a secret', () => {
      const provider = one(run, 'pulumi:providers:cloudflare');
      expect(isSecretValue(provider.inputs.apiToken)).toBe(true);
      for (const record of ofType(run, 'cloudflare:index/dnsRecord:DnsRecord')) expect(record.provider).toContain('pulumi:providers:cloudflare::cloudflare');
    });

    test('never proxies the address records through Cloudflare', () => {
      const addresses = recordsOf(run).filter((r) => r.type === 'A' || r.type === 'AAAA');
      expect(addresses.length).toBeGreaterThan(0);
      for (const record of addresses) expect(record).toMatchObject({ proxied: false, content: MOCK_PUBLIC_IP });
      for (const record of recordsOf(run)) expect(record.ttl).toEqual(expect.any(Number));
    });

    test('publishes _submissions._tcp (465) and _submission._tcp (587) SRV records for mail clients (RFC 6186, RFC 8314)', () => {
      const domain = run.config['mxkit:domain'];
      const hostname = String(run.outputs.hostname.value);
      const srv = recordsOf(run).filter((r) => r.type === 'SRV');
      expect(srv.map((r) => [r.name, r.data]).sort()).toEqual([
        [`_submission._tcp.${domain}`, { priority: 0, weight: 1, port: 587, target: hostname }],
        [`_submissions._tcp.${domain}`, { priority: 0, weight: 1, port: 465, target: hostname }],
      ]);
      for (const record of srv) expect(record.content).toBeUndefined();
    });

    test('publishes an SPF record with the Elastic IP that ends in -all', () => {
      const domain = run.config['mxkit:domain'];
      const spf = recordsOf(run).filter((r) => r.type === 'TXT' && r.name === domain && String(r.content).startsWith('"v=spf1'));
      expect(spf).toHaveLength(1);
      expect(String(spf[0].content)).toMatch(new RegExp(`^"v=spf1 ip4:${MOCK_PUBLIC_IP.replace(/\./g, '\\.')}( [^"]*)? -all"$`));
    });

    test('publishes the public key of the generated DKIM key, in strings of at most 255 octets', () => {
      const name = `${String(run.outputs.dkimSelector.value)}._domainkey.`;
      const dkim = recordsOf(run).find((r) => String(r.name).startsWith(name));
      const strings = [...String(dkim?.content).matchAll(/"([^"]*)"/g)].map((m) => m[1]);
      expect(strings.every((s) => s.length <= 255)).toBe(true);
      const published = strings.join('').replace(/^v=DKIM1; k=rsa; p=/, '');
      const generated = createPublicKey(mockKeyPair().privateKeyPem).export({ type: 'spki', format: 'der' }).toString('base64');
      expect(published).toBe(generated);
    });

    test('sets the PTR to the host name and makes it depend on the A record', () => {
      const ptr = one(run, 'aws:ec2/eipDomainName:EipDomainName');
      const a = ofType(run, 'cloudflare:index/dnsRecord:DnsRecord').find((r) => r.plain.type === 'A' && r.plain.name === run.outputs.hostname.value);
      expect(ptr.plain.domainName).toBe(run.outputs.hostname.value);
      expect(ptr.dependencies).toContain(a?.urn);
    });

    test('limits the instance role to its own SSM parameters and its bucket\'s bundle folder', () => {
      const policy = JSON.parse(String(one(run, 'aws:iam/rolePolicy:RolePolicy').plain.policy)) as { Statement: Statement[] };
      const parameterArns = ofType(run, 'aws:ssm/parameter:Parameter').map((p) => `arn:aws:ssm:eu-west-1:123456789012:parameter${String(p.plain.name)}`);
      for (const statement of policy.Statement) {
        const reads = statement.Action.filter((a) => /^(ssm:GetParameter|s3:GetObject)/.test(a));
        if (reads.length === 0) continue;
        expect(statement.Resource).not.toBe('*');
        for (const resource of [statement.Resource].flat()) {
          expect(parameterArns.includes(resource) || resource === `arn:aws:s3:::${bucketName(run)}/relay/*`).toBe(true);
        }
      }
      // ec2messages:DeleteMessage removes a command from the agent's own queue once run (State
      // Manager, config-push.ts): no data of the account is written or deleted.
      expect(policy.Statement.flatMap((s) => s.Action).filter((a) => /Put|Delete|Write|\*$/.test(a) && a !== 'ec2messages:DeleteMessage')).toEqual([]);
    });

    test('stores a relay config that passes the relay schema, and exports it without password hashes', () => {
      const stored = JSON.parse(String(parameter(run, 'relay.json')?.plain.value)) as unknown;
      const parsed = parseRelayConfig(stored);
      expect(parsed.hostname).toBe(run.outputs.hostname.value);
      expect(parsed.users.map((u) => u.passwordHash)).toEqual([expect.stringMatching(/^\$scrypt\$/)]);
      expect(run.outputs.relayConfig.secret).toBe(false);
      // The alert webhook (a URL holding a token) is redacted like the hashes.
      const redacted = parsed.alerts ? { alerts: { webhook: REDACTED } } : {};
      expect({ ...(run.outputs.relayConfig.value as object), users: parsed.users.length }).toEqual({ ...(stored as object), users: parsed.users.length, ...redacted });
    });

    test('parents every resource under the MailServer component tree', () => {
      const components = new Set(run.resources.filter((r) => r.type.startsWith('mxkit:')).map((r) => r.urn));
      for (const resource of run.resources) {
        if (resource.type === 'mxkit:index:MailServer' || resource.type.startsWith('pulumi:providers:')) continue;
        expect({ resource: resource.name, parented: components.has(resource.parent) }).toEqual({ resource: resource.name, parented: true });
      }
    });

    test('protects and retains nothing in ephemeral stacks, and protects the Elastic IP, DKIM key and spool volume otherwise', () => {
      const ephemeral = run.config['mxkit:ephemeral'] === 'true';
      expect(run.resources.filter((r) => r.retainOnDelete)).toEqual([]);
      const protectedTypes = run.resources.filter((r) => r.protect).map((r) => `${r.type} ${r.name}`).sort();
      const selector = String(run.outputs.dkimSelector.value);
      expect(protectedTypes).toEqual(ephemeral ? [] : ['aws:ebs/volume:Volume mxkit-host-spool', 'aws:ec2/eip:Eip mxkit-host-ip', `tls:index/privateKey:PrivateKey mxkit-dkim-${selector}-rsa`]);
      expect(one(run, 'aws:ebs/volume:Volume').plain.finalSnapshot).toBe(!ephemeral);
    });

    test('replaces the instance when its user data changes, and moves the spool volume safely', () => {
      expect(one(run, 'aws:ec2/instance:Instance').plain.userDataReplaceOnChange).toBe(true);
      const attachment = one(run, 'aws:ec2/volumeAttachment:VolumeAttachment');
      expect(attachment.deleteBeforeReplace).toBe(true);
      expect(attachment.plain).toMatchObject({ deviceName: '/dev/sdf', stopInstanceBeforeDetaching: true });
    });

    test('has SES resources, records and a smarthost exactly when mxkit:outbound is ses', () => {
      const ses = run.config['mxkit:outbound'] === 'ses';
      const present = SES_TYPES.filter((type) => run.resources.some((r) => r.type === type));
      expect(present).toEqual(ses ? SES_TYPES : []);
      const domain = run.config['mxkit:domain'];
      const apexSpf = recordsOf(run).find((r) => r.type === 'TXT' && r.name === domain && String(r.content).startsWith('"v=spf1'));
      expect(String(apexSpf?.content).includes('include:amazonses.com')).toBe(ses || String(run.config['mxkit:smarthost'] ?? '').includes('amazonses.com'));
      expect(recordsOf(run).some((r) => String(r.content).includes('amazonses.com') && r.name !== domain)).toBe(ses);
      const relay = parseRelayConfig(JSON.parse(String(parameter(run, 'relay.json')?.plain.value)));
      if (!ses && !run.config['mxkit:smarthost']) expect(relay.delivery.smarthost).toBeNull();
      if (ses) expect(relay.delivery.smarthost?.host).toBe(`email-smtp.${run.config['aws:region']}.amazonaws.com`);
      expect(run.outputs.ses.value === undefined).toBe(!ses);
      expect(run.outputs.ses.secret).toBe(false);
    });

    test('publishes short TTLs in ephemeral stacks, whose Elastic IP is new every time', () => {
      const ttls = new Set(recordsOf(run).map((r) => r.ttl));
      expect([...ttls]).toEqual([run.config['mxkit:ephemeral'] === 'true' ? 300 : 3600]);
    });

    test('keeps the spool volume in the zone it was created in, and the instance with it', () => {
      const volume = one(run, 'aws:ebs/volume:Volume');
      expect(volume.ignoreChanges).toEqual(['availabilityZone']);
      expect(one(run, 'aws:ec2/instance:Instance').plain.availabilityZone).toBe(volume.plain.availabilityZone);
    });

    test('lets a newer AMI replace the instance instead of ignoring it', () => {
      expect(one(run, 'aws:ec2/instance:Instance').ignoreChanges).toEqual([]);
    });

    specific(get);
  });
}
