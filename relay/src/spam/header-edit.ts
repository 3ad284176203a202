/**
 * Edits of a message's header section for the spam filter: dropping X-Spam* fields a sender wrote
 * (so "X-Spam: No" in a spam run cannot sit beside, or stand in for, our verdict), and replacing
 * the Subject when rspamd asks for a tag. Only the header section (up to the first empty line) is
 * touched; the body's bytes stay as they were.
 */

import { rawHeaderFields, withoutHeaderFields } from '../mail/header-section';

/** Fields the relay writes itself (verdict.ts); anyone else's copy is removed on mx. */
const OUR_FIELDS = /^(x-spam|x-spam-score|x-spamd-result|x-spam-dnsbl)\s*:/i;

export function removeSpamHeaders(message: Buffer): Buffer {
  return withoutHeaderFields(message, (field) => OUR_FIELDS.test(field));
}

/**
 * RFC 2047 encoded words for a non-ASCII (or over-long) subject (UTF-8, base64, each word under 76
 * characters, never splitting a character), folded onto continuation lines.
 */
export function encodeSubject(subject: string): string {
  const clean = subject.replace(/[\r\n\t]+/g, ' ');
  // Plain when it is ASCII and fits a line (RFC 5322 2.1.1: 998 characters with "Subject: ").
  if (/^[\x20-\x7e]*$/.test(clean) && clean.length <= 900) return clean;
  const words: string[] = [];
  let chunk = '';
  for (const character of clean) {
    // 45 bytes of UTF-8 become 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" = 72.
    if (Buffer.byteLength(chunk + character, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += character;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** The message with its Subject field(s) replaced by one with `subject` (added if there was none). */
export function replaceSubject(message: Buffer, subject: string): Buffer {
  const { fields, rest } = rawHeaderFields(message);
  const replacement = `Subject: ${encodeSubject(subject)}`;
  const index = fields.findIndex((field) => /^subject\s*:/i.test(field));
  const kept = fields.filter((field, position) => position === index || !/^subject\s*:/i.test(field));
  if (index < 0) kept.unshift(replacement);
  else kept[kept.indexOf(fields[index])] = replacement;
  return Buffer.from(kept.join('\r\n') + rest, 'latin1');
}
