/**
 * The From rewrite for forwarded mail (RFC 7960 4.1.3.1, what mailing lists do so DMARC holds):
 *
 *   From: "Alice via example.com" <info@example.com>       the forwarder address, at our domain
 *   Reply-To: Alice <alice@sender.example>                 the original From, unless Reply-To exists
 *   X-Original-From: Alice <alice@sender.example>          always, so filters can still see it
 *
 * Needed when the next hop accepts only verified senders (Amazon SES answers `554 Message
 * rejected: Email address is not verified` to any other From), and it makes forwarded mail pass
 * DMARC on our own DKIM signature instead of relying on the receiver honouring our ARC seal.
 */
import { readFromValue } from '../mail/from-field';
import { encodeHeaderWords } from '../mail/header-words';
import { headerEnd } from './message';

/** Longest display name we write (the original's is cut, with an ellipsis). */
const MAX_DISPLAY = 96;

interface Field {
  /** Lower-case field name. */
  name: string;
  /** The raw field, folding kept, without the final CRLF (latin1: one char per byte). */
  raw: string;
}

/**
 * The fields of a header section. A line that is no field (no colon, a name with spaces such as
 * the obsolete `From :`, a continuation with no field before it) is dropped, with its continuations: the rewritten message is DKIM-signed, and
 * the signer reads only a header section of clean fields (mail/header-section.ts).
 */
function splitFields(headerBlock: string): Field[] {
  const fields: Field[] = [];
  let dropping = false;
  for (const line of headerBlock.split('\r\n')) {
    if (line === '') continue;
    const last = fields[fields.length - 1];
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last && !dropping) last.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    // RFC 5322 2.2: a field name is printable ASCII but ":" (no space: `From :` is obsolete syntax).
    dropping = colon <= 0 || !/^[\x21-\x39\x3b-\x7e]+$/.test(line.slice(0, colon));
    if (!dropping) fields.push({ name: line.slice(0, colon).toLowerCase(), raw: line });
  }
  return fields;
}

function valueOf(field: Field): string {
  return field.raw.slice(field.raw.indexOf(':') + 1);
}

/** A display name as an RFC 5322 quoted-string, or RFC 2047 encoded-words when it is not ASCII. */
function phrase(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return encodeHeaderWords(text, 52);
}

/**
 * Who the original From names, for "<who> via <domain>": its display name, else its address, read
 * by the one From reader (mail/from-field.ts); a From it finds ambiguous is an "unknown sender".
 */
export function originalSender(fromValue: string): string {
  const from = readFromValue(fromValue, { utf8: true });
  const first = from.kind === 'mailboxes' ? from.mailboxes[0] : undefined;
  const who = first?.displayName || (first ? `${first.local}@${first.domain}` : 'unknown sender');
  // Controls (a hostile name could carry CR/LF or escape sequences) never reach a header.
  // Angle brackets neither: a display name holding one is a From the signer will not read
  // (mail/from-field.ts), since naive readers take what is inside for the address.
  const clean = who.replace(/[\p{Cc}\p{Cf}<>]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > MAX_DISPLAY ? `${clean.slice(0, MAX_DISPLAY - 1)}…` : clean;
}

/**
 * Returns the message with its From rewritten to `forwarder` (an address at `domain`, ours) and
 * the original From kept in Reply-To (unless the message has one) and X-Original-From. Every From
 * field goes: a message with several would otherwise leave a stranger's one for the reader.
 */
export function rewriteFrom(message: Buffer, forwarder: string, domain: string): Buffer {
  const end = headerEnd(message);
  const fields = splitFields(message.subarray(0, end).toString('latin1'));
  const froms = fields.filter((field) => field.name === 'from' || field.name === 'x-original-from');
  const original = fields.find((field) => field.name === 'from');
  const hasReplyTo = fields.some((field) => field.name === 'reply-to');
  const display = phrase(`${original ? originalSender(valueOf(original)) : 'unknown sender'} via ${domain}`);
  const from = `From: ${display}${display.length > 60 ? '\r\n' : ''} <${forwarder}>`;
  const kept = original ? valueOf(original) : undefined;
  const added = [from, ...(kept !== undefined && kept.trim() !== '' ? [...(hasReplyTo ? [] : [`Reply-To:${kept}`]), `X-Original-From:${kept}`] : [])];
  const out: string[] = [];
  for (const field of fields) {
    if (field === original) out.push(...added);
    else if (!froms.includes(field)) out.push(field.raw);
  }
  if (!original) out.push(...added);
  return Buffer.concat([Buffer.from(`${out.join('\r\n')}\r\n\r\n`, 'latin1'), message.subarray(end)]);
}
