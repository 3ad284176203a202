/**
 * The relay config document, from plain values (the stack's outputs, or `mxkit local`'s own
 * paths). Pure: no Pulumi types in or out. The result always passes the relay's own schema
 * (relay/src/config/schema.ts), checked here so a bad deployment fails at `pulumi up`, not at boot.
 */
import { relayConfigSchema, describeConfigError, type RelayConfigInput } from '../../relay/src/config/schema';
import { toALabel, toAsciiAddress } from './names';
import type { MtaStsMode } from './records';

export type TlsMode = 'self-signed' | 'acme' | 'acme-staging';

/** RFC 8555 directory URLs of Let's Encrypt (letsencrypt.org/docs/acme-protocol-updates, /docs/staging-environment). */
export const ACME_DIRECTORIES: Record<'acme' | 'acme-staging', string> = {
  acme: 'https://acme-v02.api.letsencrypt.org/directory',
  'acme-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};
/** The CAA `issue` identifier Let's Encrypt checks, for production and staging alike. */
export const LETS_ENCRYPT_CAA = 'letsencrypt.org';

export interface RelayUser {
  username: string;
  passwordHash: string;
  allowedFrom: string[];
  /** Messages per sliding hour (relay users[].maxMessagesPerHour). */
  maxMessagesPerHour?: number;
}

export interface RelayRoute {
  match: string;
  forward: string[];
}

/** Files the relay reads on its host. */
export interface RelayFiles {
  dkimKey: string;
  tlsCert: string;
  tlsKey: string;
  acmeAccountKey: string;
  acmeStateDir: string;
  smarthostPassword: string;
  spoolDir: string;
}

/** Where the boot script puts secrets (tmpfs) and where the spool volume is mounted, on the AWS host. */
export const HOST_SECRETS_DIR = '/run/mxkit';
export const HOST_DATA_DIR = '/var/lib/mxkit';
export const HOST_CONFIG_FILE = `${HOST_SECRETS_DIR}/relay.json`;

export function filesUnder(secretsDir: string, dataDir: string): RelayFiles {
  return {
    dkimKey: `${secretsDir}/dkim.key`,
    tlsCert: `${secretsDir}/tls.crt`,
    tlsKey: `${secretsDir}/tls.key`,
    acmeAccountKey: `${secretsDir}/acme-account.key`,
    smarthostPassword: `${secretsDir}/smarthost.password`,
    acmeStateDir: `${dataDir}/acme`,
    spoolDir: `${dataDir}/spool`,
  };
}

export const HOST_FILES: RelayFiles = filesUnder(HOST_SECRETS_DIR, HOST_DATA_DIR);

export type Endpoint = { host: string; port: number };
export type Listeners = Partial<Record<'mx' | 'submission' | 'submissions' | 'http' | 'acmeHttp' | 'https', Endpoint>>;

/** Where a deployment's DKIM key for one domain and selector lives, under the secrets folder. */
export function dkimKeyFileName(domain: string, selector: string): string {
  return `dkim-${toALabel(domain, 'domain')}-${selector.toLowerCase()}.key`;
}

export interface DkimKeyFile {
  domain: string;
  selector: string;
  keyFile: string;
}

export interface RelayConfigBuildInput {
  hostname: string;
  domains: string[];
  files: RelayFiles;
  /** One key for every domain, at files.dkimKey (mxkit local). Ignored when `dkim` is given. */
  dkimSelector?: string;
  /** Each domain's keys in order: the first of a domain signs, the others stay published (rotation). */
  dkim?: DkimKeyFile[];
  /** More names the certificate must cover besides the host name (the shared submission name). */
  certificateNames?: string[];
  /** The MTA-STS policy text to serve, kept current outside the config (the relay re-reads it). */
  mtaStsPolicyFile?: string;
  /** The SRS key shared by every host of the deployment (forwarding.srsSecretFile). */
  srsSecretFile?: string;
  users?: RelayUser[];
  routes?: RelayRoute[];
  tls: { mode: 'self-signed' } | { mode: 'acme' | 'acme-staging'; email: string; directoryUrl?: string };
  mtaSts?: { mode: MtaStsMode; maxAge: string };
  smarthost?: { host: string; port: number; username?: string; hasPassword: boolean } | null;
  /** Overrides of the standard ports (mxkit local uses unprivileged ones). */
  listen?: Listeners;
  delivery?: { dnsServers?: string[]; port?: number; port25Probe?: { host: string; port: number; interval: string } };
  trustedNetworks?: string[];
  /** Spam filtering (relay `spam`): DNS block lists and rspamd. */
  spam?: RelayConfigInput['spam'];
  /** limits.maxMessagesPerUserPerHour. */
  maxMessagesPerUserPerHour?: number;
  /** The relay's own report and complaint mailboxes (records.ts defaultReportMailboxes). */
  reports?: { dmarc: string[]; tlsRpt: string[]; complaints: string[] };
  /** alerts.webhook: where alert events are POSTed (docs/deliverability.md). */
  alertsWebhook?: string;
  /** auth.oauth: OAuth 2.0 providers whose tokens may submit mail. */
  oauth?: NonNullable<RelayConfigInput['auth']>['oauth'];
}

function defaultListeners(acme: boolean, mtaSts: boolean): Listeners {
  const any = (port: number): Endpoint => ({ host: '0.0.0.0', port });
  return {
    mx: any(25),
    submission: any(587),
    submissions: any(465),
    // Health and metrics stay on loopback; the security group does not open 8025 either.
    http: { host: '127.0.0.1', port: 8025 },
    ...(acme ? { acmeHttp: any(80) } : {}),
    ...(mtaSts ? { https: any(443) } : {}),
  };
}

export function buildRelayConfig(input: RelayConfigBuildInput): RelayConfigInput {
  const hostname = toALabel(input.hostname, 'hostname');
  const domains = input.domains.map((d) => toALabel(d, 'domain'));
  const acme = input.tls.mode !== 'self-signed';
  const extraNames = (input.certificateNames ?? []).map((name) => toALabel(name, 'certificate name'));
  const names = [...new Set([hostname, ...extraNames, ...(input.mtaSts ? domains.map((d) => `mta-sts.${d}`) : [])])];
  const tls: RelayConfigInput['tls'] =
    input.tls.mode === 'self-signed'
      ? { certFile: input.files.tlsCert, keyFile: input.files.tlsKey }
      : {
          acme: {
            directoryUrl: input.tls.directoryUrl ?? ACME_DIRECTORIES[input.tls.mode],
            accountKeyFile: input.files.acmeAccountKey,
            email: input.tls.email,
            names,
            stateDir: input.files.acmeStateDir,
          },
        };
  const smarthost = input.smarthost
    ? {
        host: input.smarthost.host,
        port: input.smarthost.port,
        ...(input.smarthost.username ? { username: input.smarthost.username } : {}),
        ...(input.smarthost.hasPassword ? { passwordFile: input.files.smarthostPassword } : {}),
      }
    : null;
  const document: RelayConfigInput = {
    hostname,
    domains,
    listen: { ...defaultListeners(acme, input.mtaSts !== undefined), ...input.listen },
    tls,
    dkim: dkimEntries(input, domains),
    users: (input.users ?? []).map((u) => ({ ...u, allowedFrom: u.allowedFrom.map(asciiPattern) })),
    trustedNetworks: input.trustedNetworks ?? [],
    routes: (input.routes ?? []).map((r) => ({ match: asciiPattern(r.match), forward: r.forward.map(asciiPattern) })),
    spoolDir: input.files.spoolDir,
    delivery: { ...input.delivery, smarthost },
    ...(input.mtaSts ? { mtaSts: { ...input.mtaSts, ...(input.mtaStsPolicyFile ? { policyFile: input.mtaStsPolicyFile } : {}) } } : {}),
    ...(input.spam ? { spam: input.spam } : {}),
    ...(input.srsSecretFile ? { forwarding: { srsSecretFile: input.srsSecretFile } } : {}),
    ...(input.oauth && input.oauth.length > 0 ? { auth: { oauth: input.oauth } } : {}),
    ...(input.maxMessagesPerUserPerHour !== undefined ? { limits: { maxMessagesPerUserPerHour: input.maxMessagesPerUserPerHour } } : {}),
    ...(input.reports ? { reports: { dmarc: input.reports.dmarc.map((a) => toAsciiAddress(a)), tlsRpt: input.reports.tlsRpt.map((a) => toAsciiAddress(a)), complaints: input.reports.complaints.map((a) => toAsciiAddress(a)) } } : {}),
    ...(input.alertsWebhook ? { alerts: { webhook: input.alertsWebhook } } : {}),
  };
  const checked = relayConfigSchema.safeParse(document);
  if (!checked.success) throw new Error(`relay config: ${describeConfigError(checked.error)}`);
  return document;
}

function dkimEntries(input: RelayConfigBuildInput, domains: string[]): DkimKeyFile[] {
  if (input.dkim) return input.dkim.map((entry) => ({ domain: toALabel(entry.domain, 'domain'), selector: entry.selector, keyFile: entry.keyFile }));
  const selector = input.dkimSelector;
  if (selector === undefined) throw new Error('relay config: dkimSelector or dkim is required');
  return domains.map((domain) => ({ domain, selector, keyFile: input.files.dkimKey }));
}

/** `*@bücher.example` → `*@xn--bcher-kva.example`: the relay compares domains in A-labels. */
function asciiPattern(pattern: string): string {
  return pattern.startsWith('*@') ? `*@${toALabel(pattern.slice(2), 'address')}` : toAsciiAddress(pattern);
}

export const REDACTED = '(secret: stored in SSM)';

/** The same document with user password hashes replaced, for plain stack outputs and logs. */
export function redactRelayConfig(document: RelayConfigInput): RelayConfigInput {
  return { ...document, users: (document.users ?? []).map((u) => ({ ...u, passwordHash: REDACTED })) };
}
