/**
 * The SMTP layer's edge for addresses. smtp-server (3.21, _parseAddressCommand) checks the path's
 * syntax, strips a source route, and then rewrites the domain with punycode.toUnicode: labels that
 * start with a lower-case `xn--` are decoded (`XN--` is not; a fake A-label such as `xn--example-`
 * decodes to plain `example`), every other label is left as sent, fullwidth letters and soft
 * hyphens included. Deciding on that would let one recipient have several spellings, so a patch
 * (patches/smtp-server.ts rawEnvelopeAddress) hands our handlers the address exactly as the
 * client wrote it, and this module normalises it once with the relay's one address model
 * (mail/address.ts).
 */
import { normalizeAddress, type AddressProblem, type Mailbox } from '../mail/address';
import { SmtpReply } from './reply';

export type EnvelopeAddress = { ok: true; address: string; mailbox?: Mailbox } | { ok: false; reply: SmtpReply };

const REPLY_TEXT: Record<Exclude<AddressProblem, 'needs_smtputf8'>, string> = {
  syntax: 'address form not accepted',
  compatibility_form: 'address form not accepted (fullwidth or other compatibility characters)',
  invisible_character: 'address form not accepted (invisible characters)',
};

function refusal(raw: string, problem: AddressProblem, role: 'recipient' | 'sender'): EnvelopeAddress {
  const shown = raw.replace(/[^\x21-\x7e]/g, '?');
  if (problem === 'needs_smtputf8') {
    // RFC 6531 3.5: a non-ASCII address without SMTPUTF8 on MAIL FROM.
    return { ok: false, reply: new SmtpReply(553, '5.6.7', `<${shown}>: non-ASCII address without SMTPUTF8`, 'needs_smtputf8') };
  }
  const enhanced = role === 'recipient' ? '5.1.3' : '5.1.7';
  const reason = role === 'recipient' ? `bad_recipient_${problem}` : `bad_sender_${problem}`;
  return { ok: false, reply: new SmtpReply(553, enhanced, `<${shown}>: ${REPLY_TEXT[problem]}`, reason) };
}

/**
 * RCPT TO. The bare `postmaster` (RFC 5321 4.1.1.3, which servers must accept) is the postmaster
 * of `postmasterDomain`, when the listener has one.
 */
export function recipientAddress(raw: string, utf8: boolean, postmasterDomain?: string): EnvelopeAddress {
  const address = raw.toLowerCase() === 'postmaster' && postmasterDomain ? `postmaster@${postmasterDomain}` : raw;
  const normalized = normalizeAddress(address, { utf8 });
  return normalized.ok ? { ok: true, address: normalized.address, mailbox: normalized.mailbox } : refusal(raw, normalized.problem, 'recipient');
}

/** MAIL FROM; the null sender `<>` stays ''. */
export function senderAddress(raw: string, utf8: boolean): EnvelopeAddress {
  if (raw === '') return { ok: true, address: '' };
  const normalized = normalizeAddress(raw, { utf8 });
  return normalized.ok ? { ok: true, address: normalized.address, mailbox: normalized.mailbox } : refusal(raw, normalized.problem, 'sender');
}
