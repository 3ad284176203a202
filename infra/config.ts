/**
 * Stack config → one typed, validated object, read once. Every error names the key
 * (`mxkit:domain is required`); all problems are reported together so one `pulumi up` shows them all.
 * `parseStackConfig` is pure (tested without Pulumi); `readStackConfig` reads the stack and
 * wraps the secret values back into Pulumi secrets.
 */
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { DURATION_PATTERN } from '../relay/src/config/duration';
import { toALabel, toAsciiAddress } from './builders/names';
import { mailFromDomainFor } from './builders/ses';
import { DMARC_POLICIES, type DmarcPolicy, type MtaStsMode } from './builders/records';
import type { RelayRoute, RelayUser, TlsMode } from './builders/relay-config';
import { SPAM_MODES, type DnsblEntry, type SpamMode } from './builders/spam';
import { dnsblZoneSchema } from '../relay/src/config/spam-schema';
import { readDeploymentShape, type ConfigReader, type DeploymentShape, type DomainEntry } from './config-shape';
import { oauthProviderSchema, type OAuthProvider } from '../relay/src/config/oauth-schema';

export const TLS_MODES = ['acme', 'acme-staging', 'self-signed'] as const;
/** How mail leaves: `direct` to each domain's MX on port 25, or through Amazon SES (components/ses.ts). */
export const OUTBOUND_MODES = ['direct', 'ses'] as const;
export type OutboundMode = (typeof OUTBOUND_MODES)[number];
const MTA_STS_MODES = ['testing', 'enforce', 'none'] as const;

/** Every key this program reads; any other `mxkit:` key is a typo and is refused. */
export const KNOWN_KEYS = [
  'mxkit:domain', 'mxkit:hostname', 'mxkit:cloudflareZoneId', 'mxkit:instanceType', 'mxkit:dkimSelector',
  'mxkit:dmarcPolicy', 'mxkit:reportsTo', 'mxkit:tls', 'mxkit:acmeEmail', 'mxkit:routes', 'mxkit:users',
  'mxkit:smarthost', 'mxkit:smarthostPassword', 'mxkit:sshCidr', 'mxkit:ephemeral', 'mxkit:relayImage',
  'mxkit:mtaStsMode', 'mxkit:mtaStsMaxAge', 'mxkit:spoolVolumeSize', 'mxkit:availabilityZone', 'mxkit:bundlePath',
  'mxkit:spam', 'mxkit:dnsbl', 'mxkit:rspamdImage',
  'mxkit:outbound', 'mxkit:sesMailFromDomain',
  'mxkit:subnetId', 'mxkit:amiId',
  'mxkit:alertsWebhook',
  'mxkit:hosts', 'mxkit:domains', 'mxkit:dkimSelectors',
  'mxkit:oauth',
] as const;
export const SECRET_KEYS = ['cloudflare:apiToken', 'mxkit:users', 'mxkit:smarthostPassword', 'mxkit:alertsWebhook'] as const;

export interface SmarthostConfig {
  host: string;
  port: number;
  username?: string;
  /** The smarthost's SPF domain, added to our SPF as `include:` (e.g. amazonses.com). */
  spfInclude?: string;
}

/** Plain, validated settings. Secret values are kept apart in `secrets`. */
export interface MxkitSettings {
  /** The primary domain: domains[0]. */
  domain: string;
  /** Host 1's name: hostnames[0]. */
  hostname: string;
  /** The primary domain's zone. */
  cloudflareZoneId: string;
  /** Every mail domain with its zone (mxkit:domains, or mxkit:domain + mxkit:cloudflareZoneId). */
  domains: DomainEntry[];
  /** One name per host (mxkit:hosts, mxkit:hostname). */
  hostnames: string[];
  /** mxkit:hostname as written: a name or a {n} pattern. */
  hostnamePattern: string;
  region: string;
  instanceType: string;
  architecture: 'arm64' | 'x86_64';
  /** The signing selector: dkimSelectors[0]. */
  dkimSelector: string;
  /** Every published selector, the signing one first (mxkit:dkimSelectors or mxkit:dkimSelector). */
  dkimSelectors: string[];
  dmarcPolicy: DmarcPolicy;
  /** Another address for DMARC and TLS-RPT reports besides the relay's own mailboxes (e.g. a DMARC service). */
  reportsTo?: string;
  tls: TlsMode;
  acmeEmail?: string;
  mtaSts?: { mode: MtaStsMode; maxAge: string };
  routes: RelayRoute[];
  smarthost?: SmarthostConfig;
  outbound: OutboundMode;
  /** With `ses`: the custom MAIL FROM domain (default bounce.<domain>). */
  sesMailFromDomain?: string;
  sshCidr?: string;
  ephemeral: boolean;
  relayImage?: string;
  spoolVolumeSize: number;
  availabilityZone?: string;
  subnetId?: string;
  amiId?: string;
  bundlePath: string;
  /** Content scanning by rspamd beside the relay: off | flag | reject (default reject). */
  spam: SpamMode;
  /** DNS block lists asked at connect (default none: see docs/deploy.md "Spam filtering"). */
  dnsbl: DnsblEntry[];
  /** Another rspamd image than the pinned one (a mirror, a newer digest). */
  rspamdImage?: string;
  /** OAuth 2.0 providers whose tokens may submit mail: the relay's auth.oauth, passed through. */
  oauth: OAuthProvider[];
}

export interface ParsedStackConfig extends MxkitSettings {
  secrets: { cloudflareApiToken: string; users: RelayUser[]; smarthostPassword?: string; alertsWebhook?: string };
}

export class StackConfigError extends pulumi.RunError {
  override name = 'StackConfigError';
}

const address = z.string().regex(/^[^@\s]+@[^@\s]+$/, 'must be an address like user@example.com');
const pattern = z.string().regex(/^[^@\s]+@[^@\s]+$/, 'must be an address like user@example.com or *@example.com');
const routesSchema = z.array(z.object({ match: pattern, forward: z.array(address).min(1) }).strict());
const usersSchema = z.array(
  z.object({
    username: z.string().min(1),
    passwordHash: z.string().regex(/^\$scrypt\$/, 'must be a hash printed by `mxkit hash-password`'),
    allowedFrom: z.array(pattern).min(1),
    maxMessagesPerHour: z.number().int().min(1).optional(),
  }).strict(),
);
// A zone name, or a zone with its own action/returnCodes/name (the relay's spam.dnsbl entry).
const dnsblSchema = z.array(z.preprocess((entry) => (typeof entry === 'string' ? { zone: entry } : entry), dnsblZoneSchema().partial({ action: true })));
// The relay's auth.oauth entry; on a deployed host only a jwksUrl can work (no key file is shipped).
const oauthSchema = z.array(
  oauthProviderSchema().refine((provider) => provider.jwksFile === undefined, { message: 'jwksFile is not available on a deployed host; give the provider\'s jwksUrl', path: ['jwksFile'] }),
);
const smarthostSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  username: z.string().min(1).optional(),
  spfInclude: z.string().min(1).optional(),
}).strict();

/** Graviton families carry a `g` after the generation digit: t4g, m7g, c7gn, r8gd (aws.amazon.com/ec2/graviton). */
export function architectureOf(instanceType: string): 'arm64' | 'x86_64' {
  return /^[a-z]+\d+[a-z]*g[a-z]*\./.test(instanceType) ? 'arm64' : 'x86_64';
}

type Raw = Record<string, string | undefined>;

/** The readers every key goes through: each failure is collected, named by its key. */
interface Reader extends ConfigReader {
  required(key: string): string;
  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T;
  /** A DNS name in A-label form, or undefined (with a failure) when it is not one. */
  name(key: string, value: string | undefined): string | undefined;
}

function readerOf(raw: Raw, errors: string[]): Reader {
  const fail = (key: string, message: string) => void errors.push(`${key} ${message}`);
  const text = (key: string): string | undefined => {
    const value = raw[key]?.trim();
    return value === '' ? undefined : value;
  };
  return {
    fail,
    text,
    required: (key) => {
      const value = text(key);
      if (value === undefined) fail(key, 'is required');
      return value ?? '';
    },
    oneOf: (key, choices, fallback) => {
      const value = text(key) ?? fallback;
      if (!(choices as readonly string[]).includes(value)) fail(key, `must be one of ${choices.join('|')}`);
      return value as typeof fallback;
    },
    name: (key, value) => {
      if (value === undefined) return undefined;
      try {
        return toALabel(value, key);
      } catch {
        fail(key, `must be a DNS name like example.com (got "${value}")`);
        return undefined;
      }
    },
    json: <T>(key: string, schema: z.ZodType<T>, fallback: T): T => {
      const value = text(key);
      if (value === undefined) return fallback;
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        fail(key, 'must be JSON');
        return fallback;
      }
      const result = schema.safeParse(parsed);
      if (result.success) return result.data;
      const issue = result.error.issues[0];
      const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      fail(`${key}${where}`, issue.message);
      return fallback;
    },
  };
}

function refuseUnknownKeys(raw: Raw, read: Reader): void {
  for (const key of Object.keys(raw)) {
    if (key.startsWith('mxkit:') && !(KNOWN_KEYS as readonly string[]).includes(key)) read.fail(key, 'is not a known key (typo?)');
  }
}

function readReportsTo(read: Reader): string | undefined {
  const value = read.text('mxkit:reportsTo');
  if (value === undefined) return undefined;
  try {
    return toAsciiAddress(value, 'mxkit:reportsTo');
  } catch {
    read.fail('mxkit:reportsTo', 'must be an address like dmarc@example.com');
    return undefined;
  }
}

/** DMARC, TLS and MTA-STS: what the records and the certificates say. */
function readMailPolicy(read: Reader, domain: string, reportsTo: string | undefined) {
  const dmarcPolicy = read.oneOf('mxkit:dmarcPolicy', DMARC_POLICIES, 'none');
  const tls = read.oneOf('mxkit:tls', TLS_MODES, 'acme');
  const acmeEmail = tls === 'self-signed' ? undefined : read.text('mxkit:acmeEmail') ?? reportsTo ?? `postmaster@${domain}`;
  if (acmeEmail !== undefined && !z.string().email().safeParse(acmeEmail).success) read.fail('mxkit:acmeEmail', 'must be an address like ops@example.com');
  // MTA-STS needs a publicly trusted certificate for the policy host (RFC 8461 §3.3), so by
  // default it is published only when the relay gets certificates from ACME.
  const mtaStsMode = read.oneOf('mxkit:mtaStsMode', MTA_STS_MODES, tls === 'self-signed' ? 'none' : 'testing');
  const mtaStsMaxAge = read.text('mxkit:mtaStsMaxAge') ?? '7d';
  if (!DURATION_PATTERN.test(mtaStsMaxAge)) read.fail('mxkit:mtaStsMaxAge', 'must be a duration like "7d"');
  return { dmarcPolicy, tls, acmeEmail, mtaSts: mtaStsMode === 'none' ? undefined : { mode: mtaStsMode, maxAge: mtaStsMaxAge } };
}

/** How mail leaves: direct, a smarthost, or Amazon SES (which then is the smarthost). */
function readOutbound(read: Reader, shape: DeploymentShape) {
  const [{ domain }] = shape.domains;
  const smarthost = read.json<SmarthostConfig | undefined>('mxkit:smarthost', smarthostSchema, undefined);
  const smarthostPassword = read.text('mxkit:smarthostPassword');
  if (smarthostPassword !== undefined && smarthost === undefined) read.fail('mxkit:smarthostPassword', 'is set but mxkit:smarthost is not');
  const outbound = read.oneOf('mxkit:outbound', OUTBOUND_MODES, 'direct');
  const mailFromText = read.text('mxkit:sesMailFromDomain');
  let sesMailFromDomain: string | undefined;
  // One SES identity is provisioned, the primary domain's; SES would refuse mail from the others.
  if (outbound === 'ses' && shape.domains.length > 1) read.fail('mxkit:outbound', 'ses sends for one domain only; with several in mxkit:domains use direct');
  if (outbound === 'ses') {
    // SES becomes the smarthost: a hand-set one would be a second, conflicting way out.
    if (smarthost !== undefined) read.fail('mxkit:smarthost', 'must not be set with mxkit:outbound ses (the program configures SES as the smarthost)');
    if (smarthostPassword !== undefined) read.fail('mxkit:smarthostPassword', 'must not be set with mxkit:outbound ses (the SES SMTP password is derived and stored by the program)');
    try {
      sesMailFromDomain = mailFromDomainFor(domain, mailFromText);
      if (sesMailFromDomain === shape.hostnames[0] || sesMailFromDomain === `mta-sts.${domain}`) read.fail('mxkit:sesMailFromDomain', `must not be ${sesMailFromDomain}, which has records of its own`);
    } catch {
      read.fail('mxkit:sesMailFromDomain', `must be a subdomain of ${domain} like bounce.${domain}`);
    }
  } else if (mailFromText !== undefined) {
    read.fail('mxkit:sesMailFromDomain', 'is set but mxkit:outbound is not ses');
  }
  // The relay refuses to start with a username and no password (it could never authenticate).
  if (smarthost?.username !== undefined && smarthostPassword === undefined) read.fail('mxkit:smarthostPassword', 'is required when mxkit:smarthost has a username (pulumi config set --secret mxkit:smarthostPassword …)');
  if (smarthost !== undefined && smarthost.username === undefined && smarthostPassword !== undefined) read.fail('mxkit:smarthost.username', 'is required when mxkit:smarthostPassword is set');
  return { smarthost, smarthostPassword, outbound, sesMailFromDomain };
}

/** The machines: instance type and image, network placement, access, the spool volume. */
function readHosts(read: Reader, shape: DeploymentShape, projectRoot: string) {
  const instanceType = read.text('mxkit:instanceType') ?? 't4g.small';
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) read.fail('mxkit:instanceType', 'must be an EC2 instance type like t4g.small');
  const relayImage = read.text('mxkit:relayImage');
  // A tag can be re-pushed without the user data changing, so the hosts would never run the new
  // image; a digest names exactly one image and a new one replaces the host.
  if (relayImage !== undefined && !/^[^\s@]+@sha256:[a-f0-9]{64}$/.test(relayImage)) read.fail('mxkit:relayImage', 'must be pinned by digest, like registry.example/mxkit-relay@sha256:<64 hex> (docker buildx imagetools inspect shows it)');
  const subnetId = read.text('mxkit:subnetId');
  if (subnetId !== undefined && !/^subnet-[0-9a-f]{8,17}$/.test(subnetId)) read.fail('mxkit:subnetId', 'must be a subnet ID like subnet-0123456789abcdef0');
  // A subnet is in one availability zone, and every host is in its own.
  if (subnetId !== undefined && shape.hostnames.length > 1) read.fail('mxkit:subnetId', 'places one host; with mxkit:hosts above 1 the hosts run in the default VPC (a subnet per host is not supported yet)');
  const amiId = read.text('mxkit:amiId');
  if (amiId !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(amiId)) read.fail('mxkit:amiId', 'must be an AMI ID like ami-0123456789abcdef0');
  const sshCidr = read.text('mxkit:sshCidr');
  if (sshCidr !== undefined && !/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/.test(sshCidr)) read.fail('mxkit:sshCidr', 'must be an IPv4 CIDR like 198.51.100.7/32');
  if (sshCidr?.endsWith('/0')) read.fail('mxkit:sshCidr', 'must not open SSH to the whole internet; use SSM Session Manager instead');
  const ephemeralText = read.text('mxkit:ephemeral') ?? 'false';
  if (ephemeralText !== 'true' && ephemeralText !== 'false') read.fail('mxkit:ephemeral', 'must be true or false');
  const spoolText = read.text('mxkit:spoolVolumeSize') ?? '8';
  const spoolVolumeSize = Number(spoolText);
  if (!Number.isInteger(spoolVolumeSize) || spoolVolumeSize < 1 || spoolVolumeSize > 16384) read.fail('mxkit:spoolVolumeSize', 'must be a size in GiB between 1 and 16384');
  return {
    instanceType,
    architecture: architectureOf(instanceType),
    relayImage,
    subnetId,
    amiId,
    sshCidr,
    ephemeral: ephemeralText === 'true',
    spoolVolumeSize,
    availabilityZone: read.text('mxkit:availabilityZone'),
    bundlePath: path.resolve(projectRoot, read.text('mxkit:bundlePath') ?? 'dist/mxkit.js'),
  };
}

function readSpam(read: Reader) {
  const spam = read.oneOf('mxkit:spam', SPAM_MODES, 'reject');
  const dnsbl = read.json<DnsblEntry[]>('mxkit:dnsbl', dnsblSchema, []);
  const rspamdImage = read.text('mxkit:rspamdImage');
  if (rspamdImage !== undefined && !/^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$/.test(rspamdImage)) read.fail('mxkit:rspamdImage', 'must be an image reference like rspamd/rspamd:4.1.2@sha256:<64 hex digits>');
  return { spam, dnsbl, rspamdImage };
}

/** Routes may name any of the mail domains (the relay receives for all of them). */
function checkRouteDomains(read: Reader, routes: readonly RelayRoute[], shape: DeploymentShape): void {
  const domainNames = shape.domains.map((entry) => entry.domain);
  for (const [index, route] of routes.entries()) {
    const routeDomain = route.match.split('@').pop() ?? '';
    if (!domainNames.includes(read.name(`mxkit:routes[${index}].match`, routeDomain) ?? '')) read.fail(`mxkit:routes[${index}].match`, `must be an address at ${domainNames.join(' or ')}`);
  }
}

/** Reads every key in named steps; all problems are collected and thrown together. */
export function parseStackConfig(raw: Raw, projectRoot = path.resolve(__dirname, '..')): ParsedStackConfig {
  const errors: string[] = [];
  const read = readerOf(raw, errors);
  refuseUnknownKeys(raw, read);
  const reportsTo = readReportsTo(read);
  const shape = readDeploymentShape(read, reportsTo);
  const [{ domain, cloudflareZoneId }] = shape.domains;
  const cloudflareApiToken = read.required('cloudflare:apiToken');
  const region = read.required('aws:region');
  const policy = readMailPolicy(read, domain, reportsTo);
  const routes = read.json('mxkit:routes', routesSchema, []);
  const users = read.json('mxkit:users', usersSchema, []);
  const { smarthostPassword, ...outbound } = readOutbound(read, shape);
  const hosts = readHosts(read, shape, projectRoot);
  // Alerts that do not need mail (docs/deliverability.md): often a URL holding a token, so a secret.
  const alertsWebhook = read.text('mxkit:alertsWebhook');
  if (alertsWebhook !== undefined && !/^https?:\/\/[^\s/]+/i.test(alertsWebhook)) read.fail('mxkit:alertsWebhook', 'must be an http(s) URL');
  const spam = readSpam(read);
  const oauth = read.json<OAuthProvider[]>('mxkit:oauth', oauthSchema, []);
  checkRouteDomains(read, routes, shape);

  if (errors.length > 0) throw new StackConfigError(errors.join('; '));
  return {
    domain,
    hostname: shape.hostnames[0],
    cloudflareZoneId,
    domains: shape.domains,
    hostnames: shape.hostnames,
    hostnamePattern: shape.hostnamePattern,
    region,
    dkimSelector: shape.dkimSelectors[0],
    dkimSelectors: shape.dkimSelectors,
    reportsTo,
    ...policy,
    routes,
    ...outbound,
    ...hosts,
    ...spam,
    oauth,
    secrets: { cloudflareApiToken, users, smarthostPassword, ...(alertsWebhook !== undefined ? { alertsWebhook } : {}) },
  };
}

export interface StackConfig extends MxkitSettings {
  secrets: { cloudflareApiToken: pulumi.Output<string>; users: pulumi.Output<RelayUser[]>; smarthostPassword?: pulumi.Output<string>; alertsWebhook?: pulumi.Output<string> };
}

/**
 * Reads the current stack's config. The values are read synchronously so a bad key fails before any
 * resource is registered; secret values are wrapped with `pulumi.secret` straight away and never
 * leave this function in plain form.
 */
export function readStackConfig(): StackConfig {
  const parsed = parseStackConfig({ ...pulumi.runtime.allConfig() });
  const { users, smarthostPassword, alertsWebhook } = parsed.secrets;
  return {
    ...parsed,
    secrets: {
      cloudflareApiToken: new pulumi.Config('cloudflare').requireSecret('apiToken'),
      users: pulumi.secret(users),
      smarthostPassword: smarthostPassword === undefined ? undefined : new pulumi.Config('mxkit').requireSecret('smarthostPassword'),
      ...(alertsWebhook === undefined ? {} : { alertsWebhook: new pulumi.Config('mxkit').requireSecret('alertsWebhook') }),
    },
  };
}
