/**
 * RFC 2047 encoded words in header fields, decoded and encoded by one library: libmime, the MIME
 * code mailauth (and so the relay bundle) already carries. Decoding joins adjacent encoded words
 * (RFC 2047 6.2) and reads any charset libmime knows; encoding writes UTF-8 words.
 *
 * libmime, with its charset tables, is loaded on the first encoded word, not with the relay:
 * most header fields have none (every encoded word starts "=?", RFC 2047 2), and evaluating it
 * cost every start ~20 ms and the relay's heap its tables (docs/benchmarks.md, issue 17).
 */
import type LibmimeModule from 'libmime';

let loaded: typeof LibmimeModule | undefined;

function libmime(): typeof LibmimeModule {
  // A synchronous require, so the readers below stay synchronous; esbuild bundles it as usual.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require('libmime') as typeof LibmimeModule);
}

const mayHoldEncodedWord = (text: string) => text.includes('=?');

/** Header text with every encoded word decoded; text that is not an encoded word stays as it is. */
export function decodeHeaderWords(text: string): string {
  return mayHoldEncodedWord(text) ? libmime().decodeWords(text) : text;
}

/** `text` as base64 encoded words of at most `maxLength` characters each (UTF-8). */
export function encodeHeaderWords(text: string, maxLength = 52): string {
  return libmime().encodeWord(text, 'B', maxLength);
}

// The From check (from-field.ts) reads encoded words the widest way a mail reader might: any
// `=?charset?B|Q?text?=` is a word, whatever its charset is called.
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;
// Charsets that are not ASCII-compatible (UTF-7, UTF-16, UTF-32) could spell `<` in other bytes.
const NOT_ASCII_COMPATIBLE = /^(utf-?7|utf-?16|utf-?32|ucs-?2|ucs-?4|unicode)/i;
// Charset names libmime reads as one (its own word pattern); any other name is read as latin1 (enough to see ASCII).
const LIBMIME_CHARSET = /^[\w-]+$/;

export class UnreadableEncodedWord extends Error {
  override name = 'UnreadableEncodedWord';
}

/**
 * The text as a reader that decodes encoded words would show it, word by word (the text between
 * words kept), so an angle-bracketed address cannot hide in one. Throws UnreadableEncodedWord for
 * a word in a charset that is not ASCII-compatible.
 */
export function readableHeaderWords(text: string): string {
  if (!mayHoldEncodedWord(text)) return text;
  return text.replace(ENCODED_WORD, (_word, charset: string, encoding: string, payload: string) => {
    const name = charset.split('*')[0];
    if (NOT_ASCII_COMPATIBLE.test(name)) throw new UnreadableEncodedWord(`an encoded word in ${name}`);
    return libmime().decodeWords(`=?${LIBMIME_CHARSET.test(name) ? name : 'iso-8859-1'}?${encoding}?${payload}?=`);
  });
}
