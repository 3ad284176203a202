/**
 * Just enough RFC 5322 header reading for the inbox page: the first From, To and Subject, unfolded,
 * with RFC 2047 encoded words decoded. The raw source stays the authority; this is for display.
 */

/** The header section: everything before the first empty line. */
function headerBlock(message: Buffer): string {
  const text = message.subarray(0, Math.min(message.length, 256 * 1024)).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

function decodeWord(charset: string, encoding: string, text: string): string {
  const bytes =
    encoding.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  try {
    return new TextDecoder(charset.split('*')[0], { fatal: false }).decode(bytes);
  } catch {
    // An unknown charset label: show the bytes as UTF-8 rather than fail the whole page.
    return bytes.toString('utf8');
  }
}

/** RFC 2047 §6.2: whitespace between two adjacent encoded words is dropped. */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BQ]\?[^?]*\?=)\s+(?==\?[^?]+\?[BQ]\?[^?]*\?=)/gi, '$1')
    .replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=/gi, (_, charset: string, encoding: string, text: string) => decodeWord(charset, encoding, text));
}

export function headerValue(message: Buffer, name: string): string {
  const unfolded = headerBlock(message).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase();
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) {
      // Header bytes are usually ASCII; 8-bit (RFC 6532) headers are UTF-8.
      return decodeEncodedWords(Buffer.from(line.slice(colon + 1).trim(), 'latin1').toString('utf8'));
    }
  }
  return '';
}
