/**
 * RFC 2047 encoded words in header fields, decoded and encoded by one library: libmime, the MIME
 * code mailauth (and so the relay bundle) already carries. Decoding joins adjacent encoded words
 * (RFC 2047 6.2) and reads any charset libmime knows; encoding writes UTF-8 words.
 */
import libmime from 'libmime';

/** Header text with every encoded word decoded; text that is not an encoded word stays as it is. */
export function decodeHeaderWords(text: string): string {
  return libmime.decodeWords(text);
}

/** `text` as base64 encoded words of at most `maxLength` characters each (UTF-8). */
export function encodeHeaderWords(text: string, maxLength = 52): string {
  return libmime.encodeWord(text, 'B', maxLength);
}
