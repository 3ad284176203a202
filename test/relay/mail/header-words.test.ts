import { headerValue } from '../../../relay/src/local/message-headers';
import { decodeHeaderWords, encodeHeaderWords, readableHeaderWords, UnreadableEncodedWord } from '../../../relay/src/mail/header-words';

describe('RFC 2047 encoded words (one decoder: libmime)', () => {
  test.each([
    ['=?UTF-8?B?w6k=?= =?UTF-8?Q?t=C3=A9?=', 'été'], // adjacent words join (RFC 2047 6.2)
    ['=?ISO-8859-1?Q?Andr=E9?= Pirard', 'André Pirard'],
    ['=?utf-8*en?q?a_b?=', 'a b'], // RFC 2231 language tag, underscore is a space
    ['plain text, no words', 'plain text, no words'],
    ['=?UTF-8?B?broken', '=?UTF-8?B?broken'],
  ])('%s reads as %s', (encoded, decoded) => {
    expect(decodeHeaderWords(encoded)).toBe(decoded);
  });

  test('encoding splits long text into words that decode back to it', () => {
    const text = 'Ünïcødé naïve résumé person with a very long name via example.com';
    const encoded = encodeHeaderWords(text, 52);
    expect(encoded.split(' ').every((word) => word.length <= 52 && /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/.test(word))).toBe(true);
    expect(decodeHeaderWords(encoded)).toBe(text);
  });

  test("the local inbox page shows a message's Subject decoded", () => {
    const message = Buffer.from('From: a@example.test\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?UTF-8?B?IGF1cyBLw7Zsbg==?=\r\n\r\nbody\r\n', 'latin1');
    expect(headerValue(message, 'subject')).toBe('Grüße aus Köln');
  });
});

describe('reading encoded words for the From check', () => {
  it('shows an angle-bracketed address hidden in an encoded word, in any ASCII-compatible charset', () => {
    expect(readableHeaderWords('=?utf-8?b?PGFAYi5jPg==?= <me@example.test>')).toBe('<a@b.c> <me@example.test>');
    expect(readableHeaderWords('=?iso-8859-1?q?=3Cx@y.test=3E?=')).toBe('<x@y.test>');
    expect(readableHeaderWords('=?x.odd.name?q?=3C?=')).toBe('<');
  });

  it('refuses a word in a charset that could spell < in other bytes', () => {
    expect(() => readableHeaderWords('=?utf-7?q?+ADw-?=')).toThrow(UnreadableEncodedWord);
    expect(() => readableHeaderWords('=?UTF-16BE?b?ADw=?=')).toThrow(UnreadableEncodedWord);
  });
});
