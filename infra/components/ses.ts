/**
 * Outbound through Amazon SES (`mxkit:outbound ses`), for accounts whose port 25 is still blocked:
 * the domain identity with BYODKIM (the relay's own key and selector, so one key and one DNS
 * record sign for both), a custom MAIL FROM domain so SPF aligns under DMARC, and an IAM user that
 * may only send raw mail as that identity, whose access key becomes the relay's smarthost login
 * (the SMTP password is derived by the provider, `sesSmtpPasswordV4`, and only ever held as a
 * secret). Its MAIL FROM records are published by the dns component (builders/records.ts).
 *
 * aws.sesv2.EmailIdentity: registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/sesv2_email_identity
 * aws.sesv2.EmailIdentityMailFromAttributes: …/resources/sesv2_email_identity_mail_from_attributes
 * aws.iam.AccessKey (ses_smtp_password_v4): …/resources/iam_access_key
 */
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { SES_SANDBOX_REMINDER, SES_SMTP_PORT, sesSendPolicy, sesSigningKey, sesSmtpHost } from '../builders/ses';

export interface SesOutboundArgs {
  /** The mail domain (A-labels): the SES domain identity. */
  domain: string;
  region: string;
  /** The relay's DKIM selector and key (PEM, secret): SES signs with the same pair (BYODKIM). */
  dkimSelector: string;
  dkimPrivateKeyPem: pulumi.Input<string>;
  /** The custom MAIL FROM domain, a subdomain of `domain` (builders/ses.ts mailFromDomainFor). */
  mailFromDomain: string;
}

/** What `pulumi stack output ses` shows: status, no secret. */
export interface SesSummary {
  identity: string;
  region: string;
  smtpEndpoint: string;
  mailFromDomain: string;
  /** SES's verification status of the identity (PENDING until it has seen the DKIM record). */
  verificationStatus: string;
  verifiedForSending: boolean;
  sandbox: string;
}

export class SesOutbound extends pulumi.ComponentResource {
  readonly smtpHost: string;
  readonly smtpPort: number;
  /** The access key ID: the SMTP username (an identifier, not a credential on its own). */
  readonly smtpUsername: pulumi.Output<string>;
  /** Secret: the SMTP password derived from the access key's secret for the region. */
  readonly smtpPassword: pulumi.Output<string>;
  readonly identityArn: pulumi.Output<string>;
  readonly summary: pulumi.Output<SesSummary>;

  constructor(name: string, args: SesOutboundArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mxkit:ses:SesOutbound', name, {}, opts);
    const parent = { parent: this };
    this.smtpHost = sesSmtpHost(args.region);
    this.smtpPort = SES_SMTP_PORT;

    const identity = new aws.sesv2.EmailIdentity(
      `${name}-identity`,
      {
        emailIdentity: args.domain,
        dkimSigningAttributes: {
          domainSigningSelector: args.dkimSelector,
          domainSigningPrivateKey: pulumi.secret(pulumi.output(args.dkimPrivateKeyPem).apply(sesSigningKey)),
        },
      },
      parent,
    );
    new aws.sesv2.EmailIdentityMailFromAttributes(
      `${name}-mail-from`,
      {
        emailIdentity: identity.emailIdentity,
        mailFromDomain: args.mailFromDomain,
        // Until SES sees the MX record it sends with its own MAIL FROM (amazonses.com) rather
        // than refusing mail; DMARC then still aligns on DKIM.
        behaviorOnMxFailure: 'USE_DEFAULT_VALUE',
      },
      parent,
    );

    const user = new aws.iam.User(`${name}-smtp`, { path: '/mxkit/', tags: { 'mxkit:purpose': `SES SMTP sending for ${args.domain}` } }, parent);
    new aws.iam.UserPolicy(`${name}-send`, { user: user.name, policy: identity.arn.apply(sesSendPolicy) }, parent);
    const key = new aws.iam.AccessKey(`${name}-key`, { user: user.name }, { ...parent, additionalSecretOutputs: ['secret', 'sesSmtpPasswordV4'] });

    this.smtpUsername = key.id;
    this.smtpPassword = pulumi.secret(key.sesSmtpPasswordV4);
    this.identityArn = identity.arn;
    this.summary = pulumi
      // Not dkimSigningAttributes: it holds the private key, and would make the whole summary secret.
      .all([identity.verificationStatus, identity.verifiedForSendingStatus])
      .apply(([verificationStatus, verifiedForSending]) => ({
        identity: args.domain,
        region: args.region,
        smtpEndpoint: `${this.smtpHost}:${this.smtpPort}`,
        mailFromDomain: args.mailFromDomain,
        verificationStatus: verificationStatus ?? 'PENDING',
        verifiedForSending: verifiedForSending ?? false,
        sandbox: SES_SANDBOX_REMINDER,
      }));
    this.registerOutputs({ smtpUsername: this.smtpUsername, smtpPassword: this.smtpPassword, identityArn: this.identityArn, summary: this.summary });
  }
}
