/**
 * The whole deployment as one reusable component: `new MailServer(name, args)` stands up a mail host
 * for a domain (host, DNS, DKIM, TLS, secrets, relay deployment). Another Pulumi program can import it;
 * infra/index.ts is only a reader of stack config around it.
 */
import * as pulumi from '@pulumi/pulumi';
import type { RelayConfigInput } from '../relay/src/config/schema';
import { defaultReportMailboxes, type DmarcPolicy, type DnsRecord, type MtaStsMode } from './builders/records';
import { buildRelayConfig, HOST_CONFIG_FILE, HOST_FILES, REDACTED, type RelayRoute, type RelayUser, type TlsMode } from './builders/relay-config';
import { redactDnsblKeys, relaySpamConfig, thresholdsFor, type DnsblEntry, type SpamMode } from './builders/spam';
import { RSPAMD_IMAGE } from './components/rspamd-unit';
import { toALabel } from './builders/names';
import { DkimKey } from './components/dkim';
import { MailDns } from './components/dns';
import { RelayDeployment } from './components/deployment';
import { MailHost } from './components/host';
import { architectureOf } from './config';
import { SecretStore } from './components/secrets';
import { SesOutbound, type SesSummary } from './components/ses';
import { mailFromDomainFor, SES_SMTP_PORT, SES_SPF_INCLUDE, sesSmtpHost } from './builders/ses';
import { TlsMaterial } from './components/tls';

/** Seconds; records of ephemeral stacks (5 minutes, Cloudflare's "automatic"). */
export const EPHEMERAL_TTL = 300;

export interface SmarthostArgs {
  host: string;
  port: number;
  username?: string;
  /** SPF domain of the smarthost, published as `include:`. */
  spfInclude?: string;
}

export interface MailServerArgs {
  domain: string;
  /** Default mail.<domain>. */
  hostname?: string;
  cloudflareZoneId: string;
  /** Default t4g.small (arm64). */
  instanceType?: string;
  architecture?: 'arm64' | 'x86_64';
  /** A pinned AMI; default the newest Amazon Linux 2023 at each `pulumi up`. */
  ami?: string;
  availabilityZone?: string;
  /** A public subnet; default the region's default VPC. */
  subnetId?: string;
  /** Default mx1. */
  dkimSelector?: string;
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
}

export class MailServer extends pulumi.ComponentResource {
  readonly publicIp: pulumi.Output<string>;
  /** For `aws ssm start-session --target`. */
  readonly instanceId: pulumi.Output<string>;
  readonly hostname: string;
  readonly records: pulumi.Output<DnsRecord[]>;
  readonly submission: string;
  readonly dkimSelector: string;
  /** The relay config without secrets (user password hashes redacted). */
  readonly relayConfig: pulumi.Output<RelayConfigInput>;
  /** With `outbound: ses`: the identity's status and the sandbox reminder; undefined with `direct`. */
  readonly ses: pulumi.Output<SesSummary> | undefined;

  constructor(name: string, args: MailServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:index:MailServer', name, {}, opts);
    const parent = { parent: this };
    const domain = toALabel(args.domain, 'domain');
    const hostname = toALabel(args.hostname ?? `mail.${domain}`, 'hostname');
    const ephemeral = args.ephemeral ?? false;
    const tlsMode = args.tls ?? 'acme';
    const reportsTo = args.reportsTo;
    // The relay keeps DMARC/TLS-RPT reports and ARF complaints itself (docs/deliverability.md).
    const mailboxes = defaultReportMailboxes(domain);
    const selector = args.dkimSelector ?? 'mx1';
    const instanceType = args.instanceType ?? 't4g.small';
    const spamMode = args.spam ?? 'reject';
    const spam = relaySpamConfig(spamMode, args.dnsbl ?? []);

    const sesMode = args.outbound === 'ses';
    if (sesMode && args.smarthost) throw new Error('smarthost: must not be set with outbound "ses" (SES becomes the smarthost)');
    if (sesMode && !args.region) throw new Error('region: is required with outbound "ses" (the SES endpoint is regional)');
    const sesMailFrom = sesMode ? mailFromDomainFor(domain, args.sesMailFromDomain) : undefined;

    // The smarthost: SES's endpoint with the access key as login, or the one given by hand.
    const smarthostFor = (username: string | undefined) =>
      sesMode
        ? { host: sesSmtpHost(args.region as string), port: SES_SMTP_PORT, username, hasPassword: true }
        : args.smarthost
          ? { ...args.smarthost, hasPassword: args.smarthostPassword !== undefined }
          : null;
    const users = pulumi.output(args.users ?? []);
    const relayConfigFor = (relayUsers: RelayUser[], username: string | undefined, alertsWebhook?: string) =>
      buildRelayConfig({
        hostname,
        domains: [domain],
        files: HOST_FILES,
        dkimSelector: selector,
        users: relayUsers,
        routes: args.routes,
        tls: tlsMode === 'self-signed' ? { mode: 'self-signed' } : { mode: tlsMode, email: args.acmeEmail ?? reportsTo ?? `postmaster@${domain}` },
        mtaSts: args.mtaSts,
        smarthost: smarthostFor(username),
        spam,
        reports: { dmarc: [mailboxes.dmarc], tlsRpt: [mailboxes.tlsRpt], complaints: [mailboxes.complaints] },
        ...(alertsWebhook ? { alertsWebhook } : {}),
      });
    // Checked against the relay's schema before any resource is registered (a bad route fails
    // here), and again with the real users once they resolve, so a bad config never reaches a host.
    relayConfigFor([], sesMode ? 'AKIA-USERNAME-PLACEHOLDER' : args.smarthost?.username);
    const webhook = pulumi.output(args.alertsWebhook ?? '');

    const dkim = new DkimKey(`${name}-dkim`, { selector, protect: !ephemeral }, parent);
    const ses = sesMode
      ? new SesOutbound(`${name}-ses`, { domain, region: args.region as string, dkimSelector: selector, dkimPrivateKeyPem: dkim.privateKeyPem, mailFromDomain: sesMailFrom as string }, parent)
      : undefined;
    const smarthostUsername: pulumi.Output<string | undefined> = ses ? ses.smtpUsername : pulumi.output(args.smarthost?.username);
    const fullConfig = pulumi.all([users, smarthostUsername, webhook]).apply(([list, username, hook]) => JSON.stringify(relayConfigFor(list, username, hook || undefined), null, 2));

    const tls = new TlsMaterial(`${name}-tls`, { mode: tlsMode, dnsNames: [hostname, ...(args.mtaSts ? [`mta-sts.${domain}`] : [])] }, parent);

    // Each parameter is named after the file the host writes it to under /run/mxkit.
    const files = (path: string) => path.split('/').pop() as string;
    const values: Record<string, pulumi.Input<string>> = { [files(HOST_FILES.dkimKey)]: dkim.privateKeyPem, [files(HOST_CONFIG_FILE)]: pulumi.secret(fullConfig) };
    if (tls.certPem && tls.keyPem) {
      values[files(HOST_FILES.tlsCert)] = tls.certPem;
      values[files(HOST_FILES.tlsKey)] = tls.keyPem;
    }
    if (tls.acmeAccountKeyPem) values[files(HOST_FILES.acmeAccountKey)] = tls.acmeAccountKeyPem;
    const smarthostPassword = ses ? ses.smtpPassword : args.smarthostPassword;
    if (smarthostPassword !== undefined) values[files(HOST_FILES.smarthostPassword)] = smarthostPassword;
    const secrets = new SecretStore(
      `${name}-secrets`,
      { prefix: args.parameterPrefix ?? `/mxkit/${pulumi.getProject()}/${pulumi.getStack()}`, values, large: [files(HOST_CONFIG_FILE)] },
      parent,
    );

    const deployment = new RelayDeployment(
      `${name}-deploy`,
      {
        bundlePath: args.bundlePath,
        relayImage: args.relayImage,
        parameterPrefix: secrets.prefix,
        parameterNames: secrets.names,
        secretsRevision: secrets.revision,
        ephemeral,
        ...(spamMode === 'off' ? {} : { rspamd: { image: args.rspamdImage ?? RSPAMD_IMAGE, ...thresholdsFor(spamMode) } }),
      },
      parent,
    );

    const host = new MailHost(
      `${name}-host`,
      {
        instanceType,
        architecture: args.architecture ?? architectureOf(instanceType),
        ami: args.ami,
        availabilityZone: args.availabilityZone,
        subnetId: args.subnetId,
        sshCidr: args.sshCidr,
        userData: deployment.userData,
        parameterArns: secrets.arns,
        objectArns: deployment.objectArns,
        spoolVolumeSize: args.spoolVolumeSize ?? 8,
        protectAddress: !ephemeral,
        ephemeral,
      },
      parent,
    );

    const dns = new MailDns(
      `${name}-dns`,
      {
        zoneId: args.cloudflareZoneId,
        records: {
          domain,
          hostname,
          dkimSelector: selector,
          dmarcPolicy: args.dmarcPolicy ?? 'none',
          reportMailboxes: mailboxes,
          ...(reportsTo ? { reportsTo } : {}),
          mtaSts: args.mtaSts,
          caaIssuers: tls.caaIssuers,
          // SES signs and sends for the domain: the apex authorises it, and its MAIL FROM domain
          // gets its own MX and SPF (builders/ses.ts).
          spfIncludes: ses ? [SES_SPF_INCLUDE] : args.smarthost?.spfInclude ? [args.smarthost.spfInclude] : [],
          ...(ses && sesMailFrom ? { sesMailFrom: { domain: sesMailFrom, region: args.region as string } } : {}),
          // A throw-away stack gets a new Elastic IP each time: resolvers must not keep the last
          // one's address (by then someone else's) for an hour.
          ttl: ephemeral ? EPHEMERAL_TTL : undefined,
        },
        publicIp: host.publicIp,
        dkimPublicKeyPem: dkim.publicKeyPem,
        eipAllocationId: host.allocationId,
      },
      parent,
    );

    this.publicIp = host.publicIp;
    this.instanceId = host.instanceId;
    this.hostname = hostname;
    this.records = dns.records;
    this.submission = `${hostname}:587`;
    this.dkimSelector = selector;
    // Usernames and allowed senders are not secret; only the hashes are, and those are replaced.
    // unsecret is applied to that redacted projection only, never to the hashes themselves.
    this.relayConfig = pulumi
      .all([pulumi.unsecret(users.apply((list) => list.map((u) => ({ ...u, passwordHash: REDACTED })))), smarthostUsername])
      .apply(([redacted, username]) => ({
        ...relayConfigFor([], username),
        users: redacted,
        ...(spam ? { spam: redactDnsblKeys(spam) } : {}),
        ...(args.alertsWebhook !== undefined ? { alerts: { webhook: REDACTED } } : {}),
      }));
    this.ses = ses?.summary;
    this.registerOutputs({
      publicIp: this.publicIp,
      instanceId: this.instanceId,
      hostname: this.hostname,
      records: this.records,
      submission: this.submission,
      dkimSelector: this.dkimSelector,
      relayConfig: this.relayConfig,
      ses: this.ses,
    });
  }
}
