/**
 * One DKIM-Signature (RFC 6376), relaxed/relaxed, rsa-sha256 or ed25519-sha256 (RFC 8463), with
 * over-signing: the h= tag lists each important field once more than the message has it, so a
 * second From:, or a Reply-To: or Cc: the author never wrote, cannot be added after signing
 * without breaking the signature (RFC 6376 section 8.15; a name listed beyond the fields present
 * "signs" the absence, section 5.4.2). mailauth's signer lists only the fields present, so the
 * canonicalization and signing live here; verifiers (mailauth, python3-dkim) check the result.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';

/** Fields signed when present (mailauth's default list, RFC 6376 section 5.4.1's recommendations). */
export const SIGNED_FIELDS = [
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc', 'mime-version', 'content-type',
  'content-transfer-encoding', 'content-id', 'content-description', 'resent-date', 'resent-from', 'resent-sender',
  'resent-to', 'resent-cc', 'resent-message-id', 'in-reply-to', 'references', 'list-id', 'list-help',
  'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive', 'list-unsubscribe-post',
] as const;

/**
 * Fields signed once more than present (absent ones: once), as rspamd's DKIM signing does by default
 * (rspamd.com/doc/modules/dkim_signing.html, `sign_headers` with `(o)`): what a receiver shows or
 * threads by cannot be added or duplicated later.
 */
export const OVERSIGNED_FIELDS: ReadonlySet<string> = new Set([
  'from', 'sender', 'reply-to', 'subject', 'date', 'message-id', 'to', 'cc', 'mime-version', 'content-type',
  'content-transfer-encoding', 'in-reply-to', 'references',
]);

export interface SignatureKey {
  domain: string;
  selector: string;
  privateKey: KeyObject;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

interface HeaderField {
  /** Lower-case name. */
  name: string;
  /** The field as it appears, folding included, without its final CRLF. */
  raw: string;
}

/** The message's header section (latin1, byte for byte) and body. */
function split(message: Buffer): { header: string; body: Buffer } {
  const end = message.indexOf('\r\n\r\n');
  if (end < 0) return { header: message.toString('latin1'), body: Buffer.alloc(0) };
  return { header: message.subarray(0, end + 2).toString('latin1'), body: message.subarray(end + 4) };
}

export function headerFields(header: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of header.split('\r\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1].raw += `\r\n${line}`;
    else fields.push({ name: line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase(), raw: line });
  }
  return fields.filter((field) => field.name !== '');
}

/** RFC 6376 3.4.2: lower-case name, unfold, WSP runs to one SP, no WSP around the colon or at the end. */
export function relaxedHeader(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).replace(/[ \t]+$/, '').toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
  return `${name}:${value}`;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const CRLF = Buffer.from('\r\n');

/**
 * RFC 6376 3.4.4, relaxed body: WSP runs to one SP, none at line ends, no empty lines at the end,
 * a CRLF after the last line. Only CRLF ends a line (a bare CR or LF is content, as everywhere in
 * the relay).
 *
 * At most three pieces, whatever the body: the body itself up to the first line with something to
 * change (a TAB, two spaces, a space before a line end; found with native searches, and a base64
 * attachment has none), the rest canonicalised in one pass into one buffer, and the final CRLF. A
 * large message is not turned into a string, a string per line and back (that took ~200 ms of the
 * delivery worker per 10 MiB and most of its garbage; docs/benchmarks.md, round 7), and a hostile
 * body of millions of short lines costs one pass and one copy, not an object per line.
 */
export function relaxedBodyPieces(body: Buffer): Buffer[] {
  const end = canonicalEnd(body);
  if (end === 0) return [];
  const trouble = firstTrouble(body, end);
  if (trouble < 0) return [body.subarray(0, end), CRLF];
  const previousLineEnd = body.lastIndexOf(CRLF, trouble);
  const lineStart = previousLineEnd < 0 ? 0 : previousLineEnd + 2;
  const rest = relaxedSpan(body, lineStart, end);
  return lineStart > 0 ? [body.subarray(0, lineStart), rest, CRLF] : [rest, CRLF];
}

/** The whole canonical body in one buffer (tests; delivery hashes the pieces). */
export function relaxedBody(body: Buffer): Buffer {
  return Buffer.concat(relaxedBodyPieces(body));
}

/** Where the body ends once trailing WSP and empty lines are dropped. */
function canonicalEnd(body: Buffer): number {
  let end = body.length;
  for (;;) {
    if (end >= 1 && (body[end - 1] === SP || body[end - 1] === TAB)) end--;
    else if (end >= 2 && body[end - 2] === CR && body[end - 1] === LF) end -= 2;
    else return end;
  }
}

/** The first byte before `end` that relaxed canonicalisation changes, or -1. */
function firstTrouble(body: Buffer, end: number): number {
  const found = [body.indexOf(TAB), body.indexOf('  ', 0, 'latin1'), body.indexOf(' \r\n', 0, 'latin1')].filter((at) => at >= 0 && at < end);
  return found.length === 0 ? -1 : Math.min(...found);
}

/**
 * body[start, end) canonicalised in one pass. `end` is canonicalEnd's, so the span ends with
 * content and nothing is left pending after it.
 */
function relaxedSpan(body: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  // Line ends and a WSP run seen but not written yet: written when content follows them.
  let pendingLineEnds = 0;
  let pendingSpace = false;
  for (let i = start; i < end; i++) {
    const byte = body[i];
    if (byte === CR && body[i + 1] === LF && i + 1 < end) {
      pendingLineEnds++;
      pendingSpace = false; // WSP at the end of a line is dropped
      i++;
    } else if (byte === SP || byte === TAB) {
      pendingSpace = true;
    } else {
      for (; pendingLineEnds > 0; pendingLineEnds--) length += CRLF.copy(out, length);
      if (pendingSpace) out[length++] = SP;
      pendingSpace = false;
      out[length++] = byte;
    }
  }
  return out.subarray(0, length);
}

/** The h= list: each signed field as often as present, over-signed ones once more. */
export function signedFieldNames(fields: readonly HeaderField[]): string[] {
  return SIGNED_FIELDS.flatMap((name) => {
    const present = fields.filter((field) => field.name === name).length;
    const times = present + (OVERSIGNED_FIELDS.has(name) ? 1 : 0);
    return Array<string>(times).fill(name);
  });
}

/** RFC 6376 5.4.2: the n-th listing of a name takes the n-th instance from the bottom; beyond them, nothing. */
function hashedHeaders(fields: readonly HeaderField[], names: readonly string[]): string {
  const used = new Map<string, number>();
  let text = '';
  for (const name of names) {
    const instances = fields.filter((field) => field.name === name);
    const taken = used.get(name) ?? 0;
    used.set(name, taken + 1);
    const field = instances[instances.length - 1 - taken];
    if (field) text += `${relaxedHeader(field.raw)}\r\n`;
  }
  return text;
}

/** `h=` folded a few names per line, so no header line grows past RFC 5322's 78 characters much. */
function foldedNames(names: readonly string[]): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    const next = line === '' ? name : `${line}:${name}`;
    if (next.length > 60 && line !== '') {
      lines.push(`${line}:`);
      line = name;
    } else line = next;
  }
  lines.push(line);
  return lines.join('\r\n\t ');
}

/** Returns the `DKIM-Signature:` field (CRLF-terminated) for `message`, whose lines end in CRLF. */
export function dkimSignature(message: Buffer, key: SignatureKey, now = new Date()): string {
  const { header, body } = split(message);
  const fields = headerFields(header);
  const names = signedFieldNames(fields);
  const bodyHasher = createHash('sha256');
  for (const piece of relaxedBodyPieces(body)) bodyHasher.update(piece);
  const bodyHash = bodyHasher.digest('base64');
  const unsigned =
    `DKIM-Signature: v=1; a=${key.algorithm}; c=relaxed/relaxed; d=${key.domain}; s=${key.selector};\r\n` +
    `\tt=${Math.floor(now.getTime() / 1000)}; h=${foldedNames(names)};\r\n` +
    `\tbh=${bodyHash};\r\n` +
    '\tb=';
  // RFC 6376 3.7: the signed fields in h= order, then this field with an empty b=, without its CRLF.
  const data = Buffer.from(hashedHeaders(fields, names) + relaxedHeader(unsigned), 'latin1');
  const signature =
    key.algorithm === 'ed25519-sha256'
      ? sign(null, createHash('sha256').update(data).digest(), key.privateKey) // RFC 8463 section 3: Ed25519 over the SHA-256 hash
      : sign('sha256', data, key.privateKey);
  const b = signature.toString('base64').match(/.{1,72}/g) ?? [];
  return `${unsigned}${b.join('\r\n\t ')}\r\n`;
}
