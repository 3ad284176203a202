/**
 * RFC 2047 encoded words (`=?charset?B|Q?text?=`), decoded only far enough to see what a reader
 * that decodes them would show: display names and comments are checked after decoding, so an
 * angle-bracketed address cannot hide in one. Charsets that are not ASCII-compatible (UTF-7,
 * UTF-16, UTF-32) could spell `<` in other bytes, so they count as unreadable.
 */
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;
const NOT_ASCII_COMPATIBLE = /^(utf-?7|utf-?16|utf-?32|ucs-?2|ucs-?4|unicode)/i;

export class UnreadableEncodedWord extends Error {
  override name = 'UnreadableEncodedWord';
}

/** The text with every encoded word decoded (bytes read as latin1/UTF-8, enough to see ASCII). */
export function decodeEncodedWords(text: string): string {
  return text.replace(ENCODED_WORD, (_word, charset: string, encoding: string, payload: string) => {
    const name = charset.split('*')[0];
    if (NOT_ASCII_COMPATIBLE.test(name)) throw new UnreadableEncodedWord(`an encoded word in ${name}`);
    const bytes = encoding.toLowerCase() === 'b' ? Buffer.from(payload, 'base64') : quotedPrintableWord(payload);
    return bytes.toString(/^utf-?8$/i.test(name) ? 'utf8' : 'latin1');
  });
}

function quotedPrintableWord(payload: string): Buffer {
  const bytes: number[] = [];
  for (let index = 0; index < payload.length; index++) {
    const character = payload[index];
    const hex = payload.slice(index + 1, index + 3);
    if (character === '=' && /^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      index += 2;
    } else {
      bytes.push(character === '_' ? 0x20 : character.charCodeAt(0) & 0xff);
    }
  }
  return Buffer.from(bytes);
}
