/**
 * A stand-in for the Amazon SES SMTP interface on loopback, as the relay meets it in
 * `mxkit:outbound ses` mode: STARTTLS with a certificate for the endpoint name, AUTH required (and
 * only after STARTTLS: smtp-server refuses AUTH in clear), and `554 Message rejected: Email
 * address is not verified` for a message whose From is outside the verified domain identity (SES
 * accepts a verified domain's subdomains too). docs.aws.amazon.com/ses/latest/dg/smtp-response-codes.html
 */
import type { TestCertificate } from '../../helpers/tls';
import type { ReceiverOptions } from '../../helpers/receiver';

/** What the relay is configured with: the endpoint name, served by the test DNS. */
export const SES_HOST = 'email-smtp.test-1.amazonaws.test';
export const SES_USER = 'AKIATESTSTANDIN00000';
export const SES_PASSWORD = 'ses-smtp-password-stand-in';

/** The first address in the From field (enough for the stand-in's judgement). */
export function fromAddress(raw: Buffer): string | undefined {
  const header = raw.subarray(0, Math.max(raw.indexOf('\r\n\r\n'), 0)).toString('latin1');
  const field = /^From:((?:.*)(?:\r\n[ \t].*)*)/im.exec(header)?.[1].replace(/\r\n[ \t]/g, ' ');
  if (!field) return undefined;
  const angle = /<([^<>]+)>\s*$/.exec(field.trim());
  return (angle ? angle[1] : field.trim()).toLowerCase();
}

/** Receiver options that make the delivery env's remote MTA (127.0.0.2) behave like SES. */
export function sesStandIn(verifiedDomain: string, certificate: TestCertificate): ReceiverOptions {
  return {
    host: '127.0.0.2',
    hostname: SES_HOST,
    certificate,
    auth: { user: SES_USER, pass: SES_PASSWORD },
    judge: (raw) => {
      const from = fromAddress(raw) ?? '';
      const domain = from.slice(from.lastIndexOf('@') + 1);
      if (domain === verifiedDomain || domain.endsWith(`.${verifiedDomain}`)) return undefined;
      return { code: 554, text: `Message rejected: Email address is not verified. The following identities failed the check in region TEST-1: ${from}` };
    },
  };
}
