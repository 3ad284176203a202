/**
 * The domain a submitted message is sent from, for the Message-ID the MSA adds (RFC 5322 3.6.4
 * wants its right side to be a domain the generator controls): the From: address's domain when it
 * is one of ours (or under one), else the envelope sender's, else the relay's host name. From: is
 * read by the one From reader the intake and the signer use (mail/from-field.ts).
 */
import { readFrom } from '../../mail/from-field';

function ours(domain: string | undefined, domains: readonly string[]): string | undefined {
  if (!domain) return undefined;
  const lower = domain.toLowerCase();
  return domains.some((candidate) => lower === candidate || lower.endsWith(`.${candidate}`)) ? lower : undefined;
}

export function sendingDomain(headerSection: string, mailFrom: string, domains: readonly string[], hostname: string, utf8 = false): string {
  const from = readFrom(headerSection, { utf8 });
  const fromDomain = from.kind === 'mailboxes' ? from.mailboxes[0]?.domain : undefined;
  const envelopeDomain = mailFrom.includes('@') ? mailFrom.slice(mailFrom.lastIndexOf('@') + 1) : undefined;
  return ours(fromDomain, domains) ?? ours(envelopeDomain, domains) ?? hostname;
}
