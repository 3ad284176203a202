/**
 * Amazon SES as the outbound path (`mxkit:outbound ses`), as plain values: the SMTP endpoint, the
 * custom MAIL FROM records, the BYODKIM key format and the IAM policy. Pure, tested without Pulumi;
 * infra/components/ses.ts turns them into resources.
 */
import { createPrivateKey } from 'node:crypto';
import { toALabel } from './names';

/** SES's SPF domain: `include:amazonses.com` authorises its senders (docs.aws.amazon.com/ses/latest/dg/send-email-authentication-spf.html). */
export const SES_SPF_INCLUDE = 'amazonses.com';
/** STARTTLS submission port of the SES SMTP interface (docs.aws.amazon.com/ses/latest/dg/smtp-connect.html). */
export const SES_SMTP_PORT = 587;

/** The default custom MAIL FROM subdomain: bounces come back to SES there, and SPF aligns with the From domain. */
export const DEFAULT_MAIL_FROM_LABEL = 'bounce';

/** What `pulumi stack output ses` says about the sandbox, in one line. */
export const SES_SANDBOX_REMINDER =
  'New SES accounts start in the sandbox: mail goes only to verified addresses, 200 a day. Request production access ' +
  '(SES console > Account dashboard > Request production access; AWS answers within about a day), see docs/deploy.md "First day".';

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

export function assertRegion(region: string): string {
  if (!REGION.test(region)) throw new Error(`AWS region "${region}" is not a region name like eu-west-1`);
  return region;
}

/** SES SMTP endpoint of a region (docs.aws.amazon.com/general/latest/gr/ses.html). */
export function sesSmtpHost(region: string): string {
  return `email-smtp.${assertRegion(region)}.amazonaws.com`;
}

/**
 * The custom MAIL FROM domain's records (docs.aws.amazon.com/ses/latest/dg/mail-from.html): an MX
 * to SES's feedback endpoint in the region (bounces and complaints), and SPF for SES, so the
 * envelope sender authenticates under our domain and SPF aligns under DMARC (RFC 7489 3.1.2).
 */
export function sesMailFromValues(region: string): { mx: string; spf: string } {
  return { mx: `feedback-smtp.${assertRegion(region)}.amazonses.com`, spf: `v=spf1 include:${SES_SPF_INCLUDE} -all` };
}

/** `bounce.<domain>` unless given; it must be a subdomain of the mail domain (SES requires it). */
export function mailFromDomainFor(domain: string, given?: string): string {
  const base = toALabel(domain, 'domain');
  const mailFrom = toALabel(given ?? `${DEFAULT_MAIL_FROM_LABEL}.${base}`, 'SES MAIL FROM domain');
  if (!mailFrom.endsWith(`.${base}`)) throw new Error(`SES MAIL FROM domain "${mailFrom}" must be a subdomain of ${base}`);
  return mailFrom;
}

/**
 * BYODKIM (docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-bring-your-own.html):
 * SES takes the RSA private key (1024 or 2048 bits, PKCS#1 or PKCS#8) base64-encoded without the
 * PEM armour and line breaks. We give it the very key the relay signs with, as PKCS#8 DER, so one
 * key and one DNS record (<selector>._domainkey) serve both.
 */
export function sesSigningKey(privateKeyPem: string): string {
  const key = createPrivateKey(privateKeyPem);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || (bits !== 1024 && bits !== 2048)) {
    throw new Error(`SES BYODKIM takes a 1024- or 2048-bit RSA key, not ${key.asymmetricKeyType ?? 'unknown'} ${bits ?? ''}`.trim());
  }
  return key.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

/**
 * The SMTP user's only permission: send raw mail as the domain identity (the SES SMTP interface
 * calls SendRawEmail; docs.aws.amazon.com/ses/latest/dg/control-user-access.html).
 */
export function sesSendPolicy(identityArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Sid: 'SendAsTheMailDomainOnly', Effect: 'Allow', Action: 'ses:SendRawEmail', Resource: identityArn }],
  });
}
