/**
 * Just enough RFC 5322 header reading for the inbox page: the first From, To and Subject, unfolded,
 * with RFC 2047 encoded words decoded (mail/header-words.ts). The raw source stays the authority;
 * this is for display.
 */
import { decodeHeaderWords } from '../mail/header-words';

/** The header section: everything before the first empty line. */
function headerBlock(message: Buffer): string {
  const text = message.subarray(0, Math.min(message.length, 256 * 1024)).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

export function headerValue(message: Buffer, name: string): string {
  const unfolded = headerBlock(message).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase();
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      // Header bytes are usually ASCII; 8-bit (RFC 6532) headers are UTF-8.
      return decodeHeaderWords(Buffer.from(line.slice(colon + 1).trim(), 'latin1').toString('utf8'));
    }
  }
  return '';
}
