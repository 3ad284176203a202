/**
 * The header section of a message (RFC 5322 2.2), split into fields strictly: every line is a
 * field (a name of printable ASCII but `:`, then `:`) or the continuation of the one before
 * (starts with WSP). Anything else -- a line without a colon, `From :` (obs-optional, which some
 * parsers read as From and others do not), a continuation with nothing before it -- makes the
 * section unreadable, because a reader that skips such a line and one that stops at it see
 * different fields. Text is latin1-decoded bytes (one char per byte); values keep their folding.
 */

/** The limit the intake enforces; the same limit bounds what the signer reads. */
export const MAX_HEADER_SECTION_BYTES = 64 * 1024;

export interface HeaderField {
  /** Lower case. */
  name: string;
  /** Everything after the colon, folding CRLFs included. */
  value: string;
}

export type HeaderSection = { ok: true; fields: HeaderField[] } | { ok: false; problem: string };

const FIELD = /^([\x21-\x39\x3b-\x7e]+):/;

/** `text` is the header section (with or without the empty line that ends it). */
export function parseHeaderSection(text: string): HeaderSection {
  const lines = text.replace(/(?:\r\n)+$/, '').split('\r\n');
  const fields: HeaderField[] = [];
  for (const [index, line] of lines.entries()) {
    if (line === '' && lines.length === 1) break;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields[fields.length - 1];
      if (!last) return { ok: false, problem: 'the header section starts with a continuation line' };
      last.value += `\r\n${line}`;
      continue;
    }
    const match = FIELD.exec(line);
    if (!match) return { ok: false, problem: `header line ${index + 1} is not a field ("name: value")` };
    fields.push({ name: match[1].toLowerCase(), value: line.slice(match[0].length) });
  }
  return { ok: true, fields };
}

/** The header section of a whole message in memory: up to the first empty line, latin1. */
export function headerSectionOf(message: Buffer): string {
  if (message.subarray(0, 2).toString('latin1') === '\r\n') return '';
  const end = message.indexOf('\r\n\r\n');
  return message.subarray(0, end < 0 ? message.length : end + 2).toString('latin1');
}

/**
 * A message's header section as raw fields, each with its folding and without its final CRLF,
 * and the rest (the empty line and the body), latin1. For edits that keep every other byte.
 */
export function rawHeaderFields(message: Buffer): { fields: string[]; rest: string } {
  const text = message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? text.length : end + 2;
  return { fields: text.slice(0, headerEnd).split(/\r\n(?![ \t])/), rest: text.slice(headerEnd) };
}

/** The message without the header fields `drop` picks (given the raw field); the same Buffer when none is. */
export function withoutHeaderFields(message: Buffer, drop: (field: string) => boolean): Buffer {
  const { fields, rest } = rawHeaderFields(message);
  const kept = fields.filter((field) => !drop(field));
  if (kept.length === fields.length) return message;
  return Buffer.from(kept.join('\r\n') + rest, 'latin1');
}
