/** The From rewrite of forwarded mail (RFC 7960 4.1.3), on hostile and ordinary headers alike. */
import addressparser from 'nodemailer/lib/addressparser';
import { rewriteFrom } from '../../../relay/src/delivery/rewrite-from';
import { decodeHeaderWords } from '../../../relay/src/mail/header-words';

const rewrite = (...headers: string[]) => rewriteFrom(Buffer.from([...headers, '', 'body line', ''].join('\r\n'), 'latin1'), 'info@example.test', 'example.test').toString('latin1');
const field = (text: string, name: string): string[] => text.match(new RegExp(`^${name}:((?:[^\\r]*)(?:\\r\\n[ \\t][^\\r]*)*)`, 'gim')) ?? [];
const displayOf = (text: string) => decodeHeaderWords(addressparser(field(text, 'From')[0].slice(5).replace(/\r\n[ \t]/g, ' '))[0]?.name ?? '');

describe('rewriting the From of a forwarded message', () => {
  test('names the original sender "via" our domain, at the forwarder address, and keeps the original in Reply-To and X-Original-From', () => {
    const text = rewrite('Received: from x', 'From: Alice Example <alice@sender.test>', 'To: <info@example.test>', 'Subject: hi');
    expect(field(text, 'From')).toEqual(['From: "Alice Example via example.test" <info@example.test>']);
    expect(field(text, 'Reply-To')).toEqual(['Reply-To: Alice Example <alice@sender.test>']);
    expect(field(text, 'X-Original-From')).toEqual(['X-Original-From: Alice Example <alice@sender.test>']);
    expect(text.endsWith('\r\n\r\nbody line\r\n')).toBe(true);
    expect(text.indexOf('Received: from x')).toBe(0);
  });

  test('uses the address when there is no display name', () => {
    expect(field(rewrite('From: bob@sender.test'), 'From')).toEqual(['From: "bob@sender.test via example.test" <info@example.test>']);
  });

  test('reads the name with the one From reader: a From it finds ambiguous is an unknown sender, never a name holding an address', () => {
    expect(field(rewrite('From: "Alice (Work)" (team) <alice@sender.test>'), 'From')).toEqual(['From: "Alice (Work) via example.test" <info@example.test>']);
    const text = rewrite('From: "a <ceo@bank.test>" <x@sender.test>');
    expect(field(text, 'From')).toEqual(['From: "unknown sender via example.test" <info@example.test>']);
  });

  test('keeps an existing Reply-To', () => {
    const text = rewrite('From: Alice <alice@sender.test>', 'Reply-To: list@sender.test');
    expect(field(text, 'Reply-To')).toEqual(['Reply-To: list@sender.test']);
  });

  test('decodes an encoded-word name and writes the new one as an encoded-word', () => {
    const text = rewrite('From: =?UTF-8?B?w4lsb2TDrWU=?= <elodie@sender.test>');
    expect(displayOf(text)).toBe('Élodíe via example.test');
    expect(field(text, 'From')[0]).toMatch(/^From: =\?UTF-8\?B\?/);
  });

  test('reads a raw UTF-8 name (SMTPUTF8, RFC 6532)', () => {
    const raw = Buffer.concat([Buffer.from('From: '), Buffer.from('Jörg <joerg@sender.test>', 'utf8'), Buffer.from('\r\n\r\nx\r\n')]);
    expect(displayOf(rewriteFrom(raw, 'info@example.test', 'example.test').toString('latin1'))).toBe('Jörg via example.test');
  });

  test('escapes quotes and backslashes in the name', () => {
    expect(field(rewrite('From: "The \\"Boss\\" \\\\ Co" <boss@sender.test>'), 'From')).toEqual(['From: "The \\"Boss\\" \\\\ Co via example.test" <info@example.test>']);
  });

  test('leaves no second From behind, folded or not, and drops a sender-made X-Original-From', () => {
    const text = rewrite('From: Alice <alice@sender.test>', 'X-Original-From: ceo@bank.test', 'from:', ' CEO <ceo@bank.test>');
    expect(field(text, 'From')).toHaveLength(1);
    expect(field(text, 'X-Original-From')).toEqual(['X-Original-From: Alice <alice@sender.test>']);
    expect(text).not.toContain('ceo@bank.test');
  });

  test('turns control characters in the name into spaces and cuts a very long name', () => {
    const text = rewrite(`From: "A\tB${'x'.repeat(300)}" <a@sender.test>`);
    const display = displayOf(text);
    expect(display).toMatch(/^A Bx+… via example\.test$/);
    expect(display.length).toBeLessThan(120);
  });

  test('adds a From (and no Reply-To) to a message that had none', () => {
    const text = rewrite('Subject: no from');
    expect(field(text, 'From')).toEqual(['From: "unknown sender via example.test" <info@example.test>']);
    expect(field(text, 'Reply-To')).toEqual([]);
  });
});
