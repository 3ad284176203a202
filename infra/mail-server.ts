/**
 * The whole deployment as one reusable component: `new MailServer(name, args)` stands up mail hosts
 * for one or more domains (hosts, DNS, DKIM, TLS, secrets, relay deployment). Another Pulumi program
 * can import it; infra/index.ts is only a reader of stack config around it.
 *
 * Resource names are identities that must not move: host 1 keeps the names a single-host stack
 * always had (`<name>-host`, `<name>-secrets`, `<name>-tls`, `<name>-dns`), hosts added later get
 * their number (`<name>-host-2`), other domains their name (`<name>-dns-example.org`), DKIM keys
 * their domain and selector. So adding a host, a domain or a selector creates resources and
 * changes no existing one (docs/deploy.md "Several hosts", "DKIM key rotation").
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import type { OAuthProvider } from '../relay/src/config/oauth-schema';
import type { RelayConfigInput } from '../relay/src/config/schema';
import { dkimFiles, HOST_OWN_FILES, hostRelayConfig, SHARED_FILES, type DeploymentRelayInput } from './builders/host-config';
import { hostnamesFor, toALabel } from './builders/names';
import { defaultReportMailboxes, deploymentMtaStsPolicy, STANDARD_SUBMISSION_PORTS, type DmarcPolicy, type DnsRecord, type MtaStsMode } from './builders/records';
import { REDACTED, type RelayRoute, type RelayUser, type TlsMode } from './builders/relay-config';
import { redactDnsblKeys, relaySpamConfig, thresholdsFor, type DnsblEntry, type SpamMode } from './builders/spam';
import { DkimKey } from './components/dkim';
import { MailDns } from './components/dns';
import { RelayDeployment } from './components/deployment';
import { MailHost } from './components/host';
import { ConfigPush, pushRevision, type PushedHost } from './components/config-push';
import { RSPAMD_IMAGE } from './components/rspamd-unit';
import { SecretStore } from './components/secrets';
import { SesOutbound, type SesSummary } from './components/ses';
import { mailFromDomainFor, SES_SMTP_PORT, SES_SPF_INCLUDE, sesSmtpHost } from './builders/ses';
import { TlsMaterial } from './components/tls';

/** Seconds; records of ephemeral stacks (5 minutes, Cloudflare's "automatic"). */
export const EPHEMERAL_TTL = 300;
import { architectureOf, type StackConfig } from './config';

export interface SmarthostArgs {
  host: string;
  port: number;
  username?: string;
  /** SPF domain of the smarthost, published as `include:`. */
  spfInclude?: string;
}

export interface MoreDomainArgs {
  domain: string;
  cloudflareZoneId: string;
  /** Another address for this domain's DMARC and TLS-RPT reports; default reportsTo. */
  reportsTo?: string;
}

export interface MailServerArgs {
  /** The primary domain: host names are under it (by default), its zone holds the host records. */
  domain: string;
  /** Host 1's name (default mail.<domain>), or a pattern with {n} (mx{n}.example.com). */
  hostname?: string;
  cloudflareZoneId: string;
  /** More mail domains, each in its own Cloudflare zone. */
  moreDomains?: MoreDomainArgs[];
  /** Default 1: each host in its own availability zone, with its own address, spool and relay. */
  hosts?: number;
  /** Default t4g.small (arm64). */
  instanceType?: string;
  architecture?: 'arm64' | 'x86_64';
  /** A pinned AMI; default the newest Amazon Linux 2023 at each `pulumi up`. */
  ami?: string;
  /** Host 1's zone; later hosts take other zones that offer the instance type. */
  availabilityZone?: string;
  /** A public subnet for host 1 (one host only); default the region's default VPC. */
  subnetId?: string;
  /** Default mx1. */
  dkimSelector?: string;
  /** Every published selector, the signing one first (key rotation); overrides dkimSelector. */
  dkimSelectors?: string[];
  /** Default none. */
  dmarcPolicy?: DmarcPolicy;
  /**
   * DMARC and TLS-RPT reports go to the relay's own mailboxes (dmarc-reports@ and tls-reports@
   * <domain>, shown by `mxkit reports`); this address gets them too (e.g. a DMARC service).
   */
  reportsTo?: string;
  /** Default acme. */
  tls?: TlsMode;
  /** Required with acme/acme-staging (default reportsTo, else postmaster@<domain>). */
  acmeEmail?: string;
  mtaSts?: { mode: MtaStsMode; maxAge: string };
  routes?: RelayRoute[];
  /** Secret: SMTP AUTH users with hashes from `mxkit hash-password`. */
  users?: pulumi.Input<RelayUser[]>;
  smarthost?: SmarthostArgs;
  /** Secret. */
  smarthostPassword?: pulumi.Input<string>;
  /**
   * How mail leaves (default `direct`: to each domain's MX on port 25). `ses` provisions Amazon SES
   * (components/ses.ts) and makes it the relay's smarthost; then `smarthost` must not be set.
   */
  outbound?: 'direct' | 'ses';
  /** The AWS region of the SES endpoint (the provider's); required with `ses`. */
  region?: string;
  /** With `ses`: the custom MAIL FROM domain, default bounce.<domain>. */
  sesMailFromDomain?: string;
  /** Secret (it usually holds a token): the relay's alerts.webhook. */
  alertsWebhook?: pulumi.Input<string>;
  sshCidr?: string;
  /** Throw-away stacks: nothing protected or retained, `pulumi destroy` leaves nothing. */
  ephemeral?: boolean;
  relayImage?: string;
  /** GiB, default 8. */
  spoolVolumeSize?: number;
  /** Path of dist/mxkit.js. */
  bundlePath: string;
  /** Default /mxkit/<project>/<stack>: two projects' stacks of one name never share parameters. */
  parameterPrefix?: string;
  /** rspamd beside the relay: off | flag | reject (default reject: refuse at 15, flag from 6). */
  spam?: SpamMode;
  /** DNS block lists asked at connect; default none (docs/deploy.md "Spam filtering"). */
  dnsbl?: DnsblEntry[];
  /** Default: the pinned official image (components/rspamd-unit.ts). */
  rspamdImage?: string;
  /** OAuth 2.0 providers for submission (relay auth.oauth); default none. */
  oauth?: OAuthProvider[];
}

/**
 * The MailServer of a parsed stack config (infra/config.ts): every setting passes through under
 * its own name; only the few the component names differently are given here (host 1's name
 * pattern, the domains after the primary one, the number of hosts, the AMI, the secrets).
 */
export function mailServerArgsOf(config: StackConfig): MailServerArgs {
  const { hostnamePattern, domains, hostnames, amiId, secrets, ...settings } = config;
  return {
    ...settings,
    hostname: hostnamePattern,
    moreDomains: domains.slice(1),
    hosts: hostnames.length,
    ami: amiId,
    users: secrets.users,
    smarthostPassword: secrets.smarthostPassword,
    alertsWebhook: secrets.alertsWebhook,
  };
}

export interface HostOutput {
  hostname: string;
  publicIp: string;
  instanceId: string;
  availabilityZone: string;
}

/** Each parameter is named after the file the host writes it to under /run/mxkit. */
type Files = Record<string, pulumi.Input<string>>;

export class MailServer extends pulumi.ComponentResource {
  /** Host 1's address. */
  readonly publicIp: pulumi.Output<string>;
  /** Host 1's instance, for `aws ssm start-session --target`. */
  readonly instanceId: pulumi.Output<string>;
  /** Host 1's name, also the submission name. */
  readonly hostname: string;
  /** Every host, host 1 first. */
  readonly hosts: pulumi.Output<HostOutput[]>;
  /** Every zone's records. */
  readonly records: pulumi.Output<DnsRecord[]>;
  readonly submission: string;
  /** The signing selector. */
  readonly dkimSelector: string;
  /** Host 1's relay config without secrets (user password hashes redacted). */
  readonly relayConfig: pulumi.Output<RelayConfigInput>;
  /** With `outbound: ses`: the identity's status and the sandbox reminder; undefined with `direct`. */
  readonly ses: pulumi.Output<SesSummary> | undefined;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:index:MailServer', name, {}, opts);
    const parent = { parent: this };
    const plan = planDeployment(args);
    const relay = relayConfigs(plan, args);
    const shared = sharedSecrets(name, plan, args, parent);
    const deployment = new RelayDeployment(
      `${name}-deploy`,
      {
        bundlePath: args.bundlePath,
        relayImage: args.relayImage,
        ephemeral: plan.ephemeral,
        ...(plan.spamMode === 'off' ? {} : { rspamd: { image: args.rspamdImage ?? RSPAMD_IMAGE, ...thresholdsFor(plan.spamMode) } }),
      },
      parent,
    );
    const hosts = mailHosts(name, plan, args, { relay, shared, deployment }, parent);
    const zones = mailZones(name, plan, args, { hosts, shared }, parent);

    const { hostnames, selectors } = plan;
    this.publicIp = hosts[0].publicIp;
    this.instanceId = hosts[0].instanceId;
    this.hostname = hostnames[0];
    this.hosts = pulumi.output(hosts.map((host, index) => ({ hostname: hostnames[index], publicIp: host.publicIp, instanceId: host.instanceId, availabilityZone: host.availabilityZone })));
    this.records = pulumi.all(zones.map((zone) => zone.records)).apply((lists) => lists.flat());
    this.submission = `${hostnames[0]}:587`;
    this.dkimSelector = selectors[0];
    // Usernames and allowed senders are not secret; only the hashes are, and those are replaced.
    // unsecret is applied to that redacted projection only, never to the hashes themselves.
    this.relayConfig = pulumi
      .all([pulumi.unsecret(relay.users.apply((list) => list.map((u) => ({ ...u, passwordHash: REDACTED })))), shared.smarthostUsername])
      .apply(([redacted, username]) => ({
        ...hostRelayConfig(relay.input([], username), 0),
        users: redacted,
        ...(plan.spam ? { spam: redactDnsblKeys(plan.spam) } : {}),
        ...(args.alertsWebhook !== undefined ? { alerts: { webhook: REDACTED } } : {}),
      }));
    this.ses = shared.ses?.summary;
    this.registerOutputs({
      publicIp: this.publicIp,
      instanceId: this.instanceId,
      hostname: this.hostname,
      hosts: this.hosts,
      records: this.records,
      submission: this.submission,
      dkimSelector: this.dkimSelector,
      relayConfig: this.relayConfig,
      ses: this.ses,
    });
  }
}

/** What the args mean, normalised and checked before any resource is registered. */
interface DeploymentPlan {
  /** The primary domain. */
  domain: string;
  domains: Array<{ domain: string; cloudflareZoneId: string; reportsTo?: string }>;
  domainNames: string[];
  hostnames: string[];
  /** Every published selector, the signing one first. */
  selectors: string[];
  /** The relay's own report mailboxes, one set per domain. */
  mailboxes: ReturnType<typeof defaultReportMailboxes>[];
  ephemeral: boolean;
  tlsMode: TlsMode;
  instanceType: string;
  spamMode: SpamMode;
  spam: ReturnType<typeof relaySpamConfig>;
  parameterPrefix: string;
  sesMode: boolean;
  sesMailFrom: string | undefined;
}

function planDeployment(args: MailServerArgs): DeploymentPlan {
  const domain = toALabel(args.domain, 'domain');
  const domains = [
    { domain, cloudflareZoneId: args.cloudflareZoneId, reportsTo: args.reportsTo },
    ...(args.moreDomains ?? []).map((more) => ({ ...more, domain: toALabel(more.domain, 'domain'), reportsTo: more.reportsTo ?? args.reportsTo })),
  ];
  const domainNames = domains.map((entry) => entry.domain);
  const hostnames = hostnamesFor(args.hostname ?? `mail.${domain}`, args.hosts ?? 1);
  // A subnet is in one zone; every host is in its own.
  if (args.subnetId !== undefined && hostnames.length > 1) throw new Error('subnetId: places one host; with several hosts leave it out (default VPC)');
  const sesMode = args.outbound === 'ses';
  if (sesMode && args.smarthost) throw new Error('smarthost: must not be set with outbound "ses" (SES becomes the smarthost)');
  if (sesMode && !args.region) throw new Error('region: is required with outbound "ses" (the SES endpoint is regional)');
  // One SES identity, for the primary domain: mail from the other domains would be refused by SES.
  if (sesMode && domains.length > 1) throw new Error('outbound "ses" sends for one domain; moreDomains needs outbound "direct"');
  const spamMode = args.spam ?? 'reject';
  return {
    domain,
    domains,
    domainNames,
    hostnames,
    selectors: (args.dkimSelectors ?? [args.dkimSelector ?? 'mx1']).map((selector) => selector.toLowerCase()),
    // The relay keeps DMARC/TLS-RPT reports and ARF complaints itself (docs/deliverability.md), in
    // mailboxes at each of its domains.
    mailboxes: domainNames.map(defaultReportMailboxes),
    ephemeral: args.ephemeral ?? false,
    tlsMode: args.tls ?? 'acme',
    instanceType: args.instanceType ?? 't4g.small',
    spamMode,
    spam: relaySpamConfig(spamMode, args.dnsbl ?? []),
    parameterPrefix: args.parameterPrefix ?? `/mxkit/${pulumi.getProject()}/${pulumi.getStack()}`,
    sesMode,
    sesMailFrom: sesMode ? mailFromDomainFor(domain, args.sesMailFromDomain) : undefined,
  };
}

/** The relay config of every host, from one pure builder (builders/host-config.ts). */
interface RelayConfigs {
  users: pulumi.Output<RelayUser[]>;
  webhook: pulumi.Output<string>;
  input(relayUsers: RelayUser[], smarthostUsername: string | undefined, alertsWebhook?: string): DeploymentRelayInput;
}

function relayConfigs(plan: DeploymentPlan, args: MailServerArgs): RelayConfigs {
  // The smarthost: SES's endpoint with the access key as login, or the one given by hand.
  const smarthostFor = (username: string | undefined) =>
    plan.sesMode
      ? { host: sesSmtpHost(args.region as string), port: SES_SMTP_PORT, username, hasPassword: true }
      : args.smarthost
        ? { ...args.smarthost, hasPassword: args.smarthostPassword !== undefined }
        : null;
  const { tlsMode, mailboxes } = plan;
  const input = (relayUsers: RelayUser[], smarthostUsername: string | undefined, alertsWebhook?: string): DeploymentRelayInput => ({
    hostnames: plan.hostnames,
    domains: plan.domainNames,
    dkimSelectors: plan.selectors,
    users: relayUsers,
    routes: args.routes,
    tls: tlsMode === 'self-signed' ? { mode: 'self-signed' } : { mode: tlsMode, email: args.acmeEmail ?? args.reportsTo ?? `postmaster@${plan.domain}` },
    mtaSts: args.mtaSts,
    smarthost: smarthostFor(smarthostUsername),
    spam: plan.spam,
    reports: { dmarc: mailboxes.map((m) => m.dmarc), tlsRpt: mailboxes.map((m) => m.tlsRpt), complaints: mailboxes.map((m) => m.complaints) },
    ...(alertsWebhook ? { alertsWebhook } : {}),
    ...(args.oauth && args.oauth.length > 0 ? { oauth: args.oauth } : {}),
  });
  // Checked against the relay's schema before any resource is registered (a bad route fails
  // here), and again with the real users once they resolve, so a bad config never reaches a host.
  plan.hostnames.forEach((_, index) => hostRelayConfig(input([], plan.sesMode ? 'AKIA-USERNAME-PLACEHOLDER' : args.smarthost?.username), index));
  return { users: pulumi.output(args.users ?? []), webhook: pulumi.output(args.alertsWebhook ?? ''), input };
}

/** The deployment's secrets, one of each, read by every host. */
interface SharedSecrets {
  store: SecretStore;
  dkimKeys: Array<{ domain: string; selector: string; key: DkimKey }>;
  ses: SesOutbound | undefined;
  smarthostUsername: pulumi.Output<string | undefined>;
  /** Host 1's certificate material; its ACME account key is every host's. */
  firstTls: TlsMaterial;
}

function sharedSecrets(name: string, plan: DeploymentPlan, args: MailServerArgs, parent: pulumi.ComponentResourceOptions): SharedSecrets {
  const { domain, selectors, ephemeral } = plan;
  const shared: Files = {};
  const dkimKeys = dkimFiles(plan.domainNames, selectors).map((entry) => {
    const key = new DkimKey(
      entry.domain === domain ? `${name}-dkim-${entry.selector}` : `${name}-dkim-${entry.domain}-${entry.selector}`,
      // A signing key is protected (mail in flight verifies against it); one only kept published
      // after a rotation is not, so the recipe's last `pulumi up` can delete it.
      { selector: entry.selector, protect: !ephemeral && entry.selector === selectors[0] },
      // The primary domain's signing key was `<name>-dkim` when a stack had one key: keep it.
      { ...parent, ...(entry.domain === domain && entry.selector === selectors[0] ? { aliases: [{ name: `${name}-dkim` }] } : {}) },
    );
    shared[entry.file] = key.privateKeyPem;
    return { ...entry, key };
  });
  // The SRS key (forwarding.srsSecretFile): a bounce to an address one host made may reach any MX.
  // An Ed25519 key's PEM is 256 random bits of HMAC key material, made by a provider we already use.
  const srsKey = new tls.PrivateKey(`${name}-srs`, { algorithm: 'ED25519' }, parent);
  shared[SHARED_FILES.srsSecret] = pulumi.secret(srsKey.privateKeyPem);
  // SES signs with the relay's own signing key and selector (BYODKIM): one key, one DNS record.
  const signingKey = dkimKeys.find((entry) => entry.domain === domain && entry.selector === selectors[0]) as (typeof dkimKeys)[number];
  const ses = plan.sesMode
    ? new SesOutbound(`${name}-ses`, { domain, region: args.region as string, dkimSelector: selectors[0], dkimPrivateKeyPem: signingKey.key.privateKeyPem, mailFromDomain: plan.sesMailFrom as string }, parent)
    : undefined;
  const smarthostUsername: pulumi.Output<string | undefined> = ses ? ses.smtpUsername : pulumi.output(args.smarthost?.username);
  const smarthostPassword = ses ? ses.smtpPassword : args.smarthostPassword;
  if (smarthostPassword !== undefined) shared[SHARED_FILES.smarthostPassword] = smarthostPassword;
  // One ACME account for every host: a host then answers HTTP-01 for names it shares with the
  // others, whichever address the CA picks (relay/src/tls/http-servers.ts).
  const firstTls = new TlsMaterial(`${name}-tls`, { mode: plan.tlsMode, dnsNames: certificateNames(plan.hostnames, 0, plan.domainNames, args.mtaSts !== undefined) }, parent);
  if (firstTls.acmeAccountKeyPem) shared[SHARED_FILES.acmeAccountKey] = firstTls.acmeAccountKeyPem;
  // The one policy every host serves, listing every MX; hosts re-read it, so a host added or
  // removed changes no other host (relay mtaSts.policyFile).
  if (args.mtaSts) shared[SHARED_FILES.mtaStsPolicy] = deploymentMtaStsPolicy(args.mtaSts, plan.hostnames);
  const store = new SecretStore(`${name}-shared`, { prefix: `${plan.parameterPrefix}/shared`, values: shared, refreshable: [SHARED_FILES.mtaStsPolicy] }, parent);
  return { store, dkimKeys, ses, smarthostUsername, firstTls };
}

/**
 * One host after the other: its own secrets (relay config, certificate), its user data, the instance;
 * then the config push that carries later secret changes to the running relays.
 */
function mailHosts(
  name: string,
  plan: DeploymentPlan,
  args: MailServerArgs,
  made: { relay: RelayConfigs; shared: SharedSecrets; deployment: RelayDeployment },
  parent: pulumi.ComponentResourceOptions,
): MailHost[] {
  const { hostnames, instanceType, ephemeral, tlsMode, parameterPrefix: prefix } = plan;
  const { relay, shared, deployment } = made;
  const sharedStore = shared.store;
  // Hosts after the first take zones no earlier host is in (the spool volume fixes a host's zone).
  const offered =
    hostnames.length > 1
      ? aws.ec2
          .getInstanceTypeOfferingsOutput({ locationType: 'availability-zone', filters: [{ name: 'instance-type', values: [instanceType] }] }, parent)
          .apply((offer) => [...offer.locations].sort())
      : pulumi.output([]);
  const hosts: MailHost[] = [];
  const pushed: PushedHost[] = [];
  hostnames.forEach((hostname, index) => {
    const own: Files = {};
    own[HOST_OWN_FILES.relayConfig] = pulumi.secret(
      pulumi.all([relay.users, shared.smarthostUsername, relay.webhook]).apply(([list, username, hook]) => JSON.stringify(hostRelayConfig(relay.input(list, username, hook || undefined), index), null, 2)),
    );
    const material = index === 0 ? shared.firstTls : tlsMode === 'self-signed' ? new TlsMaterial(`${name}-host-${index + 1}-tls`, { mode: tlsMode, dnsNames: certificateNames(hostnames, index, plan.domainNames, args.mtaSts !== undefined) }, parent) : undefined;
    if (material?.certPem && material.keyPem) {
      own[HOST_OWN_FILES.tlsCert] = material.certPem;
      own[HOST_OWN_FILES.tlsKey] = material.keyPem;
    }
    const store = new SecretStore(index === 0 ? `${name}-secrets` : `${name}-host-${index + 1}-secrets`, { prefix: index === 0 ? prefix : `${prefix}/host-${index + 1}`, values: own, large: [HOST_OWN_FILES.relayConfig] }, parent);
    const userData = deployment.userDataFor({
      parameterPrefix: store.prefix,
      parameterNames: store.names,
      shared: { prefix: sharedStore.prefix, names: sharedStore.names, refresh: sharedStore.names.filter((file) => file === SHARED_FILES.mtaStsPolicy) },
    });
    const earlier = hosts.map((host) => host.availabilityZone);
    const host = new MailHost(
      index === 0 ? `${name}-host` : `${name}-host-${index + 1}`,
      {
        instanceType,
        architecture: args.architecture ?? architectureOf(instanceType),
        ami: args.ami,
        ...(index === 0 ? { availabilityZone: args.availabilityZone, subnetId: args.subnetId } : { defaultZone: freeZone(offered, earlier, index, instanceType) }),
        sshCidr: args.sshCidr,
        userData,
        parameterArns: [...store.arns, ...sharedStore.arns],
        objectArns: deployment.objectArns,
        spoolVolumeSize: args.spoolVolumeSize ?? 8,
        // Host 1's address carries the sending reputation and stays; a later host's goes with it.
        protectAddress: index === 0 && !ephemeral,
        ephemeral,
        keepSpoolOnRemoval: index > 0 && !ephemeral,
      },
      // One host after the other, so a change that replaces every host never stops them all at once.
      { ...parent, ...(index > 0 ? { dependsOn: [hosts[index - 1]] } : {}) },
    );
    hosts.push(host);
    pushed.push({ instanceId: host.instanceId, revision: pulumi.all([store.digest, sharedStore.digest]).apply(pushRevision) });
  });
  // Users, routes, limits, keys: pushed to the running relays (SIGHUP), no new instance.
  new ConfigPush(`${name}-config`, { hosts: pushed }, parent);
  return hosts;
}

/** One DNS component per domain zone, each publishing every host and its own domain's records. */
function mailZones(name: string, plan: DeploymentPlan, args: MailServerArgs, made: { hosts: MailHost[]; shared: SharedSecrets }, parent: pulumi.ComponentResourceOptions): MailDns[] {
  const { domain, domains, hostnames, mailboxes, selectors, ephemeral } = plan;
  const { hosts, shared } = made;
  const { ses, dkimKeys, firstTls } = shared;
  const dnsHosts = hosts.map((host, index) => ({ hostname: hostnames[index], publicIp: host.publicIp, eipAllocationId: host.allocationId }));
  const dnsDomains = domains.map((entry, index) => ({
    domain: entry.domain,
    reportMailboxes: mailboxes[index],
    ...(entry.reportsTo ? { reportsTo: entry.reportsTo } : {}),
    // SES's MAIL FROM domain gets its own MX and SPF (builders/ses.ts).
    ...(ses && plan.sesMailFrom && entry.domain === domain ? { sesMailFrom: { domain: plan.sesMailFrom, region: args.region as string } } : {}),
    dkim: dkimKeys.filter((key) => key.domain === entry.domain).map((key) => ({ selector: key.selector, publicKeyPem: key.key.publicKeyPem })),
  }));
  return domains.map(
    (entry, index) =>
      new MailDns(
        index === 0 ? `${name}-dns` : `${name}-dns-${entry.domain}`,
        {
          zoneId: entry.cloudflareZoneId,
          domain: entry.domain,
          hosts: dnsHosts,
          domains: dnsDomains,
          options: {
            dmarcPolicy: args.dmarcPolicy ?? 'none',
            mtaSts: args.mtaSts,
            caaIssuers: firstTls.caaIssuers,
            // SES signs and sends for the domain: the apex authorises it.
            spfIncludes: ses ? [SES_SPF_INCLUDE] : args.smarthost?.spfInclude ? [args.smarthost.spfInclude] : [],
            // A throw-away stack gets a new Elastic IP each time: resolvers must not keep the last
            // one's address (by then someone else's) for an hour.
            ttl: ephemeral ? EPHEMERAL_TTL : undefined,
            // Every host listens on 587 and 465 (host.ts MAIL_PORTS): clients find them by SRV.
            submissionPorts: STANDARD_SUBMISSION_PORTS,
          },
          ...(index === 0 ? { legacyDkimSelector: selectors[0] } : {}),
        },
        parent,
      ),
  );
}

/** A self-signed certificate's names: the host's, the submission name (host 1's), every mta-sts name. */
function certificateNames(hostnames: string[], index: number, domains: string[], mtaSts: boolean): string[] {
  return [...new Set([hostnames[index], hostnames[0], ...(mtaSts ? domains.map((d) => `mta-sts.${d}`) : [])])];
}

/** The zone of host `index` (> 0): the first offered zone no earlier host is in. */
function freeZone(offered: pulumi.Output<string[]>, earlier: pulumi.Output<string>[], index: number, instanceType: string): pulumi.Output<string> {
  return pulumi.all([offered, pulumi.all(earlier)]).apply(([zones, taken]) => {
    const free = zones.find((zone) => !taken.includes(zone));
    if (free === undefined) throw new Error(`host ${index + 1} needs an availability zone of its own that offers ${instanceType}; this region has ${zones.length} (${zones.join(', ')}): lower mxkit:hosts`);
    return free;
  });
}
