/**
 * One address model (issue 13 point 1): one table of address spellings goes through the real
 * intake (raw SMTP on mx and submissions) and the real delivery (routes, SRS, DKIM, a receiving
 * MTA). What the intake accepts is delivered where its route says; what it refuses never arrives.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimValue } from '../../../infra/builders/records';
import { HOSTNAME, PASSWORD } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { startDeliveryEnv, type DeliveryEnv } from './env';
import { dkimpyVerify } from './verify';

interface InboundRow {
  name: string;
  rcpt: string;
  smtpUtf8?: boolean;
  /** The reply to RCPT TO, and for 250 the route target the message must reach. */
  reply: RegExp;
  target?: string;
}

const SOFT_HYPHEN = '\u00ad';
/** The DKIM key of the IDN domain (its file is named in the config before the relay starts). */
const IDN_KEY = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const INBOUND: InboundRow[] = [
  { name: 'ASCII', rcpt: 'info@example.test', reply: /^250 /, target: 'inbox@elsewhere.test' },
  { name: 'upper case', rcpt: 'INFO@EXAMPLE.TEST', reply: /^250 /, target: 'inbox@elsewhere.test' },
  { name: 'quoted dot-atom local part', rcpt: '"info"@example.test', reply: /^250 /, target: 'inbox@elsewhere.test' },
  { name: 'bare postmaster (RFC 5321 4.1.1.3)', rcpt: 'postmaster', reply: /^250 /, target: 'ops@elsewhere.test' },
  { name: 'A-label', rcpt: 'someone@xn--bcher-kva.example', reply: /^250 /, target: 'buecher@elsewhere.test' },
  { name: 'A-label in upper case', rcpt: 'someone@XN--BCHER-KVA.EXAMPLE', reply: /^250 /, target: 'buecher@elsewhere.test' },
  { name: 'U-label', rcpt: 'someone@bücher.example', reply: /^250 /, target: 'buecher@elsewhere.test' },
  { name: 'U-label in upper case', rcpt: 'someone@BÜCHER.example', reply: /^250 /, target: 'buecher@elsewhere.test' },
  { name: 'U-label in NFD', rcpt: 'someone@bu\u0308cher.example', reply: /^250 /, target: 'buecher@elsewhere.test' },
  { name: 'non-ASCII local part under SMTPUTF8, NFC', rcpt: 'café@bücher.example', smtpUtf8: true, reply: /^250 /, target: 'cafe@elsewhere.test' },
  { name: 'non-ASCII local part under SMTPUTF8, NFD', rcpt: 'cafe\u0301@bücher.example', smtpUtf8: true, reply: /^250 /, target: 'cafe@elsewhere.test' },
  { name: 'non-ASCII local part without SMTPUTF8', rcpt: 'café@bücher.example', reply: /^553 5\.6\.7 / },
  { name: 'fullwidth domain', rcpt: 'info@ｅｘａｍｐｌｅ.test', reply: /^553 5\.1\.3 / },
  { name: 'fullwidth dot', rcpt: 'info@example．test', reply: /^553 5\.1\.3 / },
  { name: 'fullwidth local part', rcpt: 'ｉｎｆｏ@example.test', smtpUtf8: true, reply: /^553 5\.1\.3 / },
  { name: 'soft hyphen in the domain', rcpt: `info@ex${SOFT_HYPHEN}ample.test`, reply: /^553 5\.1\.3 / },
  { name: 'soft hyphen in the local part', rcpt: `in${SOFT_HYPHEN}fo@example.test`, smtpUtf8: true, reply: /^553 5\.1\.3 / },
  { name: 'zero-width joiner in the domain', rcpt: 'someone@bü\u200dcher.example', reply: /^553 5\.1\.3 / },
  { name: 'compatibility character (roman numeral) in the domain', rcpt: 'someone@Ⅸbücher.example', reply: /^553 5\.1\.3 / },
  // Punycode of `ｅｘａｍｐｌｅ`, `ex<soft hyphen>ample` and `exam<zero-width space>ple`: smtp-server
  // decodes these to Unicode, and IDNA mapping would turn each into `example`.
  { name: 'A-label of a fullwidth spelling', rcpt: 'info@xn--mi7chab1aes7c.test', reply: /^553 5\.1\.3 / },
  { name: 'A-label holding a soft hyphen', rcpt: 'info@xn--example-mka.test', reply: /^553 5\.1\.3 / },
  { name: 'A-label holding a zero-width space', rcpt: 'info@xn--example-3z6c.test', reply: /^553 5\.1\.3 / },
  { name: 'trailing dot', rcpt: 'info@example.test.', reply: /^501 5\.1\.3 / },
  { name: 'quoted local part that needs its quotes', rcpt: '"in fo"@example.test', reply: /^5\d\d 5\.1\.3 / },
  { name: 'quoted local part holding a quoted pair', rcpt: '"in\\fo"@example.test', reply: /^553 5\.1\.3 / },
];

/** One mx transaction per row, the row's name as the subject. */
async function sendInbound(env: DeliveryEnv, row: InboundRow): Promise<string> {
  const client = await SmtpDialog.open(env.relay.port('mx'));
  try {
    await client.read();
    await client.command('EHLO mta.outside.test');
    expect((await client.command(`MAIL FROM:<sender@outside.test>${row.smtpUtf8 ? ' SMTPUTF8' : ''}`)).code).toBe(250);
    const rcpt = await client.command(`RCPT TO:<${row.rcpt}>`);
    if (rcpt.code !== 250) return rcpt.lines[0];
    const data = await client.data(`From: <sender@outside.test>\r\nTo: <x@example.test>\r\nSubject: ${row.name}\r\n\r\nbody\r\n`);
    expect(data.lines[0]).toMatch(/^250 /);
    return rcpt.lines[0];
  } finally {
    client.close();
  }
}

interface SubmissionRow {
  name: string;
  mailFrom: string;
  headerFrom: string;
  smtpUtf8?: boolean;
  /** The reply to MAIL FROM or, once that passed, to DATA. */
  reply: RegExp;
}

const SUBMISSIONS: SubmissionRow[] = [
  { name: 'A-label', mailFrom: 'bob@xn--bcher-kva.example', headerFrom: 'Bob <bob@xn--bcher-kva.example>', reply: /^250 / },
  { name: 'U-label', mailFrom: 'bob@bücher.example', headerFrom: 'Bob <bob@bücher.example>', reply: /^250 / },
  { name: 'U-label, upper case, NFD in From:', mailFrom: 'bob@BÜCHER.example', headerFrom: 'Bob <bob@BU\u0308CHER.example>', reply: /^250 / },
  { name: 'fullwidth envelope sender', mailFrom: 'bob@ｂüｃｈｅｒ.example', headerFrom: 'bob@bücher.example', reply: /^553 5\.1\.7 / },
  { name: 'fullwidth From:', mailFrom: 'bob@bücher.example', headerFrom: 'bob@ｂüｃｈｅｒ.example', reply: /^550 5\.6\.0 / },
  { name: 'soft hyphen in From:', mailFrom: 'bob@bücher.example', headerFrom: `bob@bü${SOFT_HYPHEN}cher.example`, reply: /^550 5\.6\.0 / },
  { name: 'another hosted domain in From:', mailFrom: 'bob@bücher.example', headerFrom: 'ceo@example.test', reply: /^550 5\.7\.1 / },
];

async function submit(env: DeliveryEnv, row: SubmissionRow): Promise<string> {
  const client = await SmtpDialog.open(env.relay.port('submissions'), { implicitTls: { ca: env.relay.certificate.cert, servername: HOSTNAME } });
  try {
    await client.read();
    await client.command('EHLO client.test');
    expect((await client.command(`AUTH PLAIN ${Buffer.from(`\0bob\0${PASSWORD}`).toString('base64')}`)).code).toBe(235);
    const mail = await client.command(`MAIL FROM:<${row.mailFrom}>${row.smtpUtf8 ? ' SMTPUTF8' : ''}`);
    if (mail.code !== 250) return mail.lines[0];
    expect((await client.command('RCPT TO:<friend@elsewhere.test>')).code).toBe(250);
    const body = `From: ${row.headerFrom}\r\nTo: <friend@elsewhere.test>\r\nSubject: ${row.name}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${Math.random()}@bücher.example>\r\n\r\nbody\r\n`;
    return (await client.data(Buffer.from(body, 'utf8'))).lines[0];
  } finally {
    client.close();
  }
}

function subjectOf(raw: Buffer): string {
  return /^Subject: (.*)$/m.exec(raw.toString('utf8'))?.[1] ?? '';
}

describe('one address model through intake and delivery', () => {
  let env: DeliveryEnv;
  beforeAll(async () => {
    env = await startDeliveryEnv({
      configure: (config, dir) => {
        // U-labels and upper case in the config too: the config goes through the same model.
        config.domains = ['example.test', 'BÜCHER.example'];
        config.routes = [
          { match: 'postmaster@example.test', forward: ['ops@elsewhere.test'] },
          { match: 'info@example.test', forward: ['inbox@elsewhere.test'] },
          { match: '*@bücher.example', forward: ['buecher@elsewhere.test'] },
          { match: 'CAFÉ@bücher.example', forward: ['cafe@elsewhere.test'] },
        ];
        writeFileSync(join(dir, 'dkim-idn.key'), IDN_KEY.privateKey, { mode: 0o600 });
        config.dkim = [...(config.dkim ?? []), { domain: 'bücher.example', selector: 'mx1', keyFile: join(dir, 'dkim-idn.key') }];
        config.users = [...(config.users ?? []), { username: 'bob', passwordHash: config.users?.[0].passwordHash ?? '', allowedFrom: ['*@Bücher.example'] }];
      },
    });
    env.dns.set('mx1._domainkey.xn--bcher-kva.example', { TXT: [dkimValue(IDN_KEY.publicKey)] });
  });
  afterAll(() => env.stop());

  it('answers each spelling of a recipient on mx as the one model says, and delivers every accepted one to its route', async () => {
    const replies: Record<string, string> = {};
    for (const row of INBOUND) replies[row.name] = await sendInbound(env, row);
    for (const row of INBOUND) expect({ row: row.name, reply: replies[row.name] }).toEqual({ row: row.name, reply: expect.stringMatching(row.reply) });

    const accepted = INBOUND.filter((row) => row.target);
    const delivered = await env.remote.waitForMessages(accepted.length);
    for (const row of accepted) {
      const mail = delivered.find((candidate) => subjectOf(candidate.raw) === row.name);
      expect({ row: row.name, rcptTo: mail?.rcptTo }).toEqual({ row: row.name, rcptTo: [row.target] });
      // SRS rewrites the sender into the routed domain, in its A-label form.
      const domain = row.target === 'buecher@elsewhere.test' || row.target === 'cafe@elsewhere.test' ? 'xn--bcher-kva.example' : 'example.test';
      expect(mail?.mailFrom).toMatch(new RegExp(`^SRS0=[a-z2-7]{8}=[a-z2-7]{2}=outside\\.test=sender@${domain.replace(/\./g, '\\.')}$`));
    }
    await env.waitForEvent('finished', () => env.remote.messages.length === accepted.length);
    expect(env.events.filter((event) => event.name === 'bounced')).toEqual([]);
    expect(env.remote.messages).toHaveLength(accepted.length);
  });

  it('authorises a submitting user, and DKIM-signs, by the same normalised domain', async () => {
    const before = env.remote.messages.length;
    const replies: Record<string, string> = {};
    for (const row of SUBMISSIONS) replies[row.name] = await submit(env, row);
    for (const row of SUBMISSIONS) expect({ row: row.name, reply: replies[row.name] }).toEqual({ row: row.name, reply: expect.stringMatching(row.reply) });

    const accepted = SUBMISSIONS.filter((row) => row.reply.source.startsWith('^250'));
    const delivered = (await env.remote.waitForMessages(before + accepted.length)).slice(before);
    for (const row of accepted) {
      const mail = delivered.find((candidate) => subjectOf(candidate.raw) === row.name);
      expect(mail?.raw.toString('latin1')).toMatch(/^DKIM-Signature: [^]*?d=xn--bcher-kva\.example;/m);
      expect(mail?.mailFrom).toBe('bob@xn--bcher-kva.example');
      expect(await dkimpyVerify(mail?.raw ?? Buffer.alloc(0), env.dns)).toBe('pass');
    }
  });
});
