/**
 * One From (issue 13 point 3): user bob may send as bob@other.test only; the relay holds DKIM keys
 * for other.test and for example.test. Each From: below is submitted and, when accepted, delivered
 * to a receiving MTA: none may arrive with a signature for example.test (a domain bob may not send
 * as); a From: that can be read more than one way is refused, never signed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimValue } from '../../../infra/builders/records';
import { HOSTNAME, PASSWORD } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { startDeliveryEnv, type DeliveryEnv } from './env';
import { dkimpyVerify } from './verify';

type Outcome = 'signed' | 'unsigned' | 'refused';

interface Row {
  name: string;
  /** Header lines that come before To/Subject/Date/Message-ID (CRLF-separated, no final CRLF). */
  headers: string;
  outcome: Outcome;
  /** A refusal more specific than "some 55x". */
  reply?: RegExp;
}

const pad = (bytes: number) => Array.from({ length: Math.ceil(bytes / 1000) }, (_, index) => `X-Pad-${index}: ${'a'.repeat(990)}`).join('\r\n');

const ROWS: Row[] = [
  // The forms the attack run found (issue 13).
  { name: 'nested comment holding an address', headers: 'From: (x(y)<ceo@example.test>) bob@other.test', outcome: 'refused' },
  { name: 'quoted pair closing a comment early for naive readers', headers: 'From: (a\\) <ceo@example.test>) bob@other.test', outcome: 'refused' },
  { name: '70 KB of header lines before From:', headers: `${pad(70_000)}\r\nFrom: ceo@example.test`, outcome: 'refused', reply: /^552 5\.3\.4 Header section exceeds/ },
  // Plain, allowed forms.
  { name: 'addr-spec', headers: 'From: bob@other.test', outcome: 'signed' },
  { name: 'display name', headers: 'From: Bob <bob@other.test>', outcome: 'signed' },
  { name: 'quoted display name with a comma', headers: 'From: "Smith, Bob" <bob@other.test>', outcome: 'signed' },
  { name: 'quoted pairs in the display name', headers: 'From: "Bob \\"The Builder\\"" <bob@other.test>', outcome: 'signed' },
  { name: 'folded', headers: 'From: Bob\r\n <bob@other.test>', outcome: 'signed' },
  { name: 'trailing comment', headers: 'From: bob@other.test (Bob)', outcome: 'signed' },
  { name: 'leading comment', headers: 'From: (Bob) bob@other.test', outcome: 'signed' },
  { name: 'nested comment without brackets', headers: 'From: bob@other.test (a (b) c)', outcome: 'signed' },
  { name: 'encoded-word display name', headers: 'From: =?utf-8?q?B=C3=B6b?= <bob@other.test>', outcome: 'signed' },
  { name: 'address as quoted display name', headers: 'From: "ceo@example.test" <bob@other.test>', outcome: 'signed' },
  { name: 'upper-case domain', headers: 'From: bob@OTHER.TEST', outcome: 'signed' },
  { name: 'upper-case local part', headers: 'From: BOB@other.test', outcome: 'signed' },
  { name: 'quoted dot-atom local part', headers: 'From: "bob"@other.test', outcome: 'signed' },
  { name: 'group of one allowed mailbox (RFC 6854)', headers: 'From: Team: bob@other.test;', outcome: 'signed' },
  { name: 'obs-phrase with a dot', headers: 'From: Bob Q. Public <bob@other.test>', outcome: 'signed' },
  { name: 'Sender: of another domain', headers: 'From: bob@other.test\r\nSender: ceo@example.test', outcome: 'signed' },
  { name: '50 KB of header lines, then an allowed From:', headers: `${pad(50_000)}\r\nFrom: bob@other.test`, outcome: 'signed' },
  { name: 'no From: at all', headers: 'X-Note: none', outcome: 'unsigned' },
  // Another domain, spelled plainly or hidden.
  { name: 'another domain', headers: 'From: ceo@example.test', outcome: 'refused' },
  { name: '50 KB of header lines, then another domain', headers: `${pad(50_000)}\r\nFrom: ceo@example.test`, outcome: 'refused' },
  { name: 'allowed first, another second', headers: 'From: bob@other.test, ceo@example.test', outcome: 'refused' },
  { name: 'another first, allowed second', headers: 'From: ceo@example.test, bob@other.test', outcome: 'refused' },
  { name: 'group holding another domain', headers: 'From: Team: bob@other.test, ceo@example.test;', outcome: 'refused' },
  { name: 'two From fields', headers: 'From: bob@other.test\r\nFrom: ceo@example.test', outcome: 'refused' },
  { name: 'two From fields, differently cased', headers: 'FROM: ceo@example.test\r\nFrom: bob@other.test', outcome: 'refused' },
  { name: 'From with a space before the colon', headers: 'From : ceo@example.test\r\nFrom: bob@other.test', outcome: 'refused' },
  { name: 'a header line that is no field', headers: 'X-Garbage\r\nFrom: bob@other.test', outcome: 'refused' },
  { name: 'a continuation line first', headers: ' X-Folded: x\r\nFrom: bob@other.test', outcome: 'refused' },
  { name: 'display name that is an address', headers: 'From: ceo@example.test <bob@other.test>', outcome: 'refused' },
  { name: 'two angle addresses', headers: 'From: <ceo@example.test> <bob@other.test>', outcome: 'refused' },
  { name: 'addr-spec then angle address', headers: 'From: bob@other.test <ceo@example.test>', outcome: 'refused' },
  { name: 'source route', headers: 'From: <@other.test:ceo@example.test>', outcome: 'refused' },
  { name: 'comment holding the allowed address', headers: 'From: ceo@example.test (bob@other.test)', outcome: 'refused' },
  { name: 'angle brackets in a quoted display name', headers: 'From: "<ceo@example.test>" <bob@other.test>', outcome: 'refused' },
  { name: 'encoded word hiding an address (Q)', headers: 'From: =?utf-8?q?=3Cceo=40example.test=3E?= <bob@other.test>', outcome: 'refused' },
  { name: 'encoded word hiding an address (B)', headers: `From: =?utf-8?b?${Buffer.from('<ceo@example.test>').toString('base64')}?= <bob@other.test>`, outcome: 'refused' },
  { name: 'encoded word in UTF-7', headers: 'From: =?utf-7?q?+ADw-ceo@example.test+AD4-?= <bob@other.test>', outcome: 'refused' },
  { name: 'encoded word as the local part', headers: 'From: =?utf-8?q?ceo?=@example.test', outcome: 'refused' },
  { name: 'spaces around @', headers: 'From: bob @ other.test', outcome: 'refused' },
  { name: 'comment inside the addr-spec', headers: 'From: bob(x)@other.test', outcome: 'refused' },
  { name: 'quoted local part holding an address', headers: 'From: "bob@other.test"@example.test', outcome: 'refused' },
  { name: 'quoted pair in the local part', headers: 'From: "b\\ob"@other.test', outcome: 'refused' },
  { name: 'domain literal', headers: 'From: bob@[127.0.0.1]', outcome: 'refused' },
  { name: 'fullwidth domain', headers: 'From: bob@ｏｔｈｅｒ.test', outcome: 'refused' },
  { name: 'soft hyphen in the domain', headers: 'From: bob@oth\u00ader.test', outcome: 'refused' },
  { name: 'trailing dot', headers: 'From: bob@other.test.', outcome: 'refused' },
  { name: 'unclosed angle bracket', headers: 'From: Bob <bob@other.test', outcome: 'refused' },
  { name: 'stray closing bracket', headers: 'From: bob@other.test>', outcome: 'refused' },
  { name: 'unterminated comment', headers: 'From: bob@other.test (oops', outcome: 'refused' },
  { name: 'empty list element', headers: 'From: bob@other.test,,', outcome: 'refused' },
  { name: 'empty group', headers: 'From: undisclosed:;', outcome: 'refused' },
  { name: 'empty From', headers: 'From: ', outcome: 'refused' },
  { name: 'latin1 bytes, not UTF-8', headers: 'From: B\xf6b <bob@other.test>', outcome: 'refused' },
  { name: 'control character', headers: 'From: bob@other.test\x00ceo@example.test', outcome: 'refused' },
];

function message(row: Row, index: number): Buffer {
  const text = `${row.headers}\r\nTo: <friend@elsewhere.test>\r\nSubject: row ${index}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <row${index}@other.test>\r\n\r\nFrom: ceo@example.test (in the body, not a header)\r\n`;
  // Row text is UTF-8, except the row that is deliberately latin1.
  return Buffer.from(text, row.name.startsWith('latin1') ? 'latin1' : 'utf8');
}

describe('the From: a submitting user may sign with', () => {
  let env: DeliveryEnv;
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

  beforeAll(async () => {
    env = await startDeliveryEnv({
      configure: (config, dir) => {
        writeFileSync(join(dir, 'other.key'), otherKey.privateKey, { mode: 0o600 });
        config.dkim = [...(config.dkim ?? []), { domain: 'other.test', selector: 'mx1', keyFile: join(dir, 'other.key') }];
        config.users = [...(config.users ?? []), { username: 'bob', passwordHash: config.users?.[0].passwordHash ?? '', allowedFrom: ['bob@other.test'] }];
        config.limits = { ...config.limits, maxMessageBytes: 512 * 1024 };
      },
    });
    env.dns.set('mx1._domainkey.other.test', { TXT: [dkimValue(otherKey.publicKey)] });
  });
  afterAll(() => env.stop());

  it(`is read one way for intake and signer alike: ${ROWS.length} forms, none signed for a domain the user may not send as`, async () => {
    const client = await SmtpDialog.open(env.relay.port('submissions'), { implicitTls: { ca: env.relay.certificate.cert, servername: HOSTNAME } });
    const replies: string[] = [];
    try {
      await client.read();
      await client.command('EHLO client.test');
      expect((await client.command(`AUTH PLAIN ${Buffer.from(`\0bob\0${PASSWORD}`).toString('base64')}`)).code).toBe(235);
      for (const [index, row] of ROWS.entries()) {
        expect((await client.command('MAIL FROM:<bob@other.test>')).code).toBe(250);
        expect((await client.command('RCPT TO:<friend@elsewhere.test>')).code).toBe(250);
        replies.push((await client.data(message(row, index))).lines[0]);
      }
    } finally {
      client.close();
    }
    const outcomes = ROWS.map((row, index) => ({ row: row.name, reply: replies[index] }));
    expect(outcomes).toEqual(ROWS.map((row) => ({ row: row.name, reply: expect.stringMatching(row.reply ?? (row.outcome === 'refused' ? /^55\d 5\.\d\.\d / : /^250 /)) })));

    const deliverable = ROWS.filter((row) => row.outcome !== 'refused').length;
    const delivered = await env.remote.waitForMessages(deliverable);
    for (const mail of delivered) {
      const text = mail.raw.toString('latin1');
      const index = Number(/^Subject: row (\d+)$/m.exec(text)?.[1]);
      const domains = [...text.matchAll(/^DKIM-Signature:[^]*?\bd=([^;\s]+);/gm)].map((match) => match[1]);
      expect({ row: ROWS[index].name, domains }).toEqual({ row: ROWS[index].name, domains: ROWS[index].outcome === 'signed' ? ['other.test'] : [] });
      if (ROWS[index].outcome === 'signed') expect(await dkimpyVerify(mail.raw, env.dns)).toBe('pass');
    }
  });
});
