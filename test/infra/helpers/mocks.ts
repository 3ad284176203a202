/**
 * Pulumi mocks that record every registered resource with its inputs, options (protect,
 * retainOnDelete, dependencies) and provider, and answer the provider functions the program calls.
 * Offline: nothing reaches a cloud API.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';

/** Pulumi's wire marker for secret values (sdk/nodejs/runtime/rpc.ts `specialSecretSig`). */
const SIG_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export interface Recorded {
  type: string;
  name: string;
  urn: string;
  /** Inputs as sent: secret values still wrapped (see isSecretValue). */
  inputs: Record<string, unknown>;
  /** Inputs with secret wrappers removed. */
  plain: Record<string, unknown>;
  provider: string;
  parent: string;
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  dependencies: string[];
  /** Names (or URNs) the resource was known by before (Pulumi aliases). */
  aliases: string[];
}

export function isSecretValue(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function unwrap(value: unknown): unknown {
  if (isSecretValue(value)) return unwrap(value.value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (typeof value === 'object' && value !== null && !(value instanceof pulumi.asset.Asset)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

/**
 * One real RSA key per test file (generation takes ~100 ms), so DKIM records carry a real public key;
 * runs in several processes that are compared with each other share one through MXKIT_MOCK_KEY (PEM).
 */
let keyPair: { privateKeyPem: string; publicKeyPem: string } | undefined;
export function mockKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  if (!keyPair) {
    const given = process.env.MXKIT_MOCK_KEY;
    const privateKey = given ? createPrivateKey(given) : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const publicKey = createPublicKey(privateKey);
    keyPair = {
      privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
  }
  return keyPair;
}

export const MOCK_PUBLIC_IP = '203.0.113.25';

/** Host 1's Elastic IP is MOCK_PUBLIC_IP; host n's (`…-host-n-ip`) is 203.0.113.(24+n). */
export function mockPublicIp(eipName: string): string {
  const number = Number(/-host-(\d+)-ip$/.exec(eipName)?.[1] ?? 1);
  return `203.0.113.${24 + number}`;
}
export const MOCK_REGION = 'eu-west-1';
/** What the IAM access key of the SES SMTP user would carry (the ID is its resource id). */
export const MOCK_ACCESS_KEY_ID = 'AKIAMOCKSESSMTPUSER01';
export const MOCK_AWS_SECRET_KEY = 'TEST-SECRET-aws-secret-access-key';
export const MOCK_SES_SMTP_PASSWORD = 'TEST-SECRET-ses-smtp-password-v4';
export const MOCK_AMI = 'ami-0123456789abcdef0';
export const MOCK_SUBNET = { id: 'subnet-0123456789abcdef0', availabilityZone: 'eu-west-1b', vpcId: 'vpc-0123456789abcdef0' };

/**
 * A real certificate for the key and names, as tls.SelfSignedCert makes (openssl, so the boot
 * rehearsal's relay can serve it and clients can verify it).
 */
function selfSignedCertificate(inputs: Record<string, unknown>): string {
  const names = (unwrap(inputs.dnsNames) as string[] | undefined) ?? [];
  const subject = unwrap(inputs.subject) as { commonName?: string; organization?: string } | undefined;
  const hours = Number(inputs.validityPeriodHours ?? 24);
  const dir = mkdtempSync(path.join(tmpdir(), 'mxkit-mock-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    writeFileSync(keyFile, String(unwrap(inputs.privateKeyPem)), { mode: 0o600 });
    return execFileSync(
      'openssl',
      [
        'req', '-x509', '-new', '-key', keyFile, '-sha256', '-days', String(Math.max(1, Math.floor(hours / 24))),
        '-subj', `/CN=${subject?.commonName ?? names[0] ?? 'mock'}/O=${subject?.organization ?? 'mock'}`,
        ...(names.length ? ['-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Outputs the providers would compute, per resource type. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'aws:ec2/eip:Eip':
      return { publicIp: mockPublicIp(name), allocationId: `eipalloc-${name}` };
    case 'tls:index/privateKey:PrivateKey':
      return mockKeyPair();
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return { certPem: selfSignedCertificate(inputs) };
    case 'aws:s3/bucket:Bucket': {
      // A bucket's ID is its name (what the provider returns), so objects and ARNs name the same bucket.
      const bucket = `${String(inputs.bucketPrefix ?? 'bucket')}mock`;
      return { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case 'aws:ssm/parameter:Parameter':
      return { arn: `arn:aws:ssm:${MOCK_REGION}:123456789012:parameter${String(inputs.name)}`, version: 1 };
    case 'aws:iam/role:Role':
      return { arn: `arn:aws:iam::123456789012:role/${name}`, name };
    case 'aws:sesv2/emailIdentity:EmailIdentity':
      return { arn: `arn:aws:ses:${MOCK_REGION}:123456789012:identity/${String(inputs.emailIdentity)}`, identityType: 'DOMAIN', verificationStatus: 'PENDING', verifiedForSendingStatus: false };
    case 'aws:iam/user:User':
      return { arn: `arn:aws:iam::123456789012:user/mxkit/${name}`, name };
    case 'aws:iam/accessKey:AccessKey':
      return { id: MOCK_ACCESS_KEY_ID, secret: MOCK_AWS_SECRET_KEY, sesSmtpPasswordV4: MOCK_SES_SMTP_PASSWORD };
    case 'aws:iam/instanceProfile:InstanceProfile':
      return { arn: `arn:aws:iam::123456789012:instance-profile/${name}`, name };
    default:
      return {};
  }
}

export interface MockRun {
  resources: Recorded[];
}

export interface MockOptions {
  /** `pulumi preview` (isDryRun true) rather than `pulumi up`. Default up. */
  preview?: boolean;
  /**
   * State the engine already holds, by resource name, returned over the inputs: what a resource
   * with ignoreChanges keeps from an earlier `up` (e.g. the zone a volume was created in).
   */
  existingState?: Record<string, Record<string, unknown>>;
  /** What the Cloudflare zone already holds (getDnsRecords results). */
  zoneRecords?: Array<{ name: string; type: string; content?: string; comment?: string }>;
  /** The AMI the newest-AL2023 lookup answers. */
  latestAmi?: string;
  /** Zones offering the instance type, in the order the API answers. */
  zones?: string[];
}

export function installMocks(project: string, stack: string, options: MockOptions = {}): MockRun {
  const run: MockRun = { resources: [] };
  const pending = new Map<string, Record<string, unknown>>();
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const inputs = args.inputs as Record<string, unknown>;
        pending.set(`${args.type}::${args.name}`, inputs);
        const computed = computedState(args.type, args.name, inputs);
        const id = typeof computed.id === 'string' ? computed.id : args.type.startsWith('pulumi:providers:') ? `${args.name}-provider-id` : `${args.name}-id`;
        return { id, state: { ...inputs, ...computed, ...options.existingState?.[args.name] } };
      },
      call: (args) => {
        switch (args.token) {
          case 'aws:ec2/getAmi:getAmi': {
            const ami = options.latestAmi ?? MOCK_AMI;
            return { id: ami, imageId: ami, architecture: 'arm64', name: 'al2023-ami-2023.6.20250101.0-kernel-6.1-arm64' };
          }
          case 'aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings':
            return { locations: options.zones ?? ['eu-west-1c', 'eu-west-1a', 'eu-west-1b'], instanceTypes: [], locationTypes: [], id: MOCK_REGION };
          case 'aws:ec2/getSubnet:getSubnet':
            if (args.inputs.id !== MOCK_SUBNET.id) throw new Error(`no subnet ${String(args.inputs.id)}`);
            return MOCK_SUBNET;
          case 'cloudflare:index/getDnsRecords:getDnsRecords':
            return { results: options.zoneRecords ?? [], direction: 'asc', match: 'all', order: 'type', proxied: false, includeShadowMetadata: false, tagMatch: 'all' };
          case 'aws:index/getRegion:getRegion':
            return { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION };
          default:
            throw new Error(`unexpected provider function ${args.token}: the test mocks do not answer it`);
        }
      },
    },
    project,
    stack,
    options.preview ?? false,
  );

  // Wrap the mock monitor to see the resource options, which the newResource hook does not receive.
  type Request = {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProvider(): string;
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getDeletebeforereplace(): boolean;
    getIgnorechangesList(): string[];
    getDependenciesList(): string[];
    getAliasesList(): Array<{ getUrn(): string; getSpec(): { getName(): string; getType(): string } | undefined }>;
  };
  type Callback = (error: Error | null, response?: { getUrn(): string }) => void;
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource(req: Request, cb: Callback): void };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) =>
    original(req, (error, response) => {
      if (!error && response) {
        const inputs = pending.get(`${req.getType()}::${req.getName()}`) ?? {};
        run.resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: response.getUrn(),
          inputs,
          plain: unwrap(inputs) as Record<string, unknown>,
          provider: req.getProvider(),
          parent: req.getParent(),
          protect: req.getProtect(),
          retainOnDelete: req.getRetainondelete(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          ignoreChanges: req.getIgnorechangesList(),
          dependencies: req.getDependenciesList(),
          // A name, a URN, or (for providers' own renames of a type) `type:<old type>`.
          aliases: req.getAliasesList().map((alias) => alias.getUrn() || alias.getSpec()?.getName() || `type:${alias.getSpec()?.getType() ?? ''}`),
        });
      }
      callback(error, response);
    });
  return run;
}

/** Resolves an Output in a test, with its secretness. */
export async function resolve<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  const value = await new Promise<T>((done) => output.apply((v) => done(v)));
  return { value, secret: await pulumi.isSecret(output) };
}

/**
 * Waits until every outstanding registration has been answered: the SDK's own signal that no RPC
 * (resource registration, invoke, output resolution) is pending -- what the Pulumi runtime waits
 * for before a program exits (@pulumi/pulumi runtime/settings waitForRPCs, internal, so checked).
 */
export async function settle(_run: MockRun): Promise<void> {
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (typeof waitForRPCs !== 'function') throw new Error('@pulumi/pulumi no longer has runtime.waitForRPCs: settle() needs another way to know registrations are done');
  await waitForRPCs();
}
