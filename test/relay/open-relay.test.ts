import { SmtpDialog } from '../helpers/smtp-dialog';
import { startTestRelay, type TestRelay } from '../helpers/relay';

let t: TestRelay;
beforeAll(async () => {
  t = await startTestRelay();
});
afterAll(() => t.stop());

// Every classic trick for getting a relay to pass mail on to a domain it does not serve
// (Postfix's and Sendmail's relay-test lists, RFC 5321 source routes, RFC 1123 %-hack).
const RELAY_TRICKS = [
  'victim@elsewhere.test',
  'victim@ELSEWHERE.TEST',
  'victim@elsewhere.test.',
  'victim@Elsewhere.Test.',
  'victim%elsewhere.test@example.test',
  'victim%elsewhere.test',
  'victim%elsewhere.test@[127.0.0.1]',
  'elsewhere.test!victim@example.test',
  'elsewhere.test!victim',
  'victim@elsewhere.test@example.test',
  '@example.test:victim@elsewhere.test',
  '@example.test,@mail.example.test:victim@elsewhere.test',
  '"victim@elsewhere.test"@example.test',
  '"victim%elsewhere.test"@example.test',
  '"elsewhere.test!victim"@example.test',
  'victim@[127.0.0.1]',
  'postmaster@[127.0.0.1]',
  'victim@[IPv6:::1]',
  'victim@127.0.0.1',
  'victim@example.test.elsewhere.test',
  'victim@elsewhereexample.test',
  'victim@sub.example.test',
  'victim@example.test:25',
  'victim@exa mple.test',
  'victim',
  'postmaster@example.test.',
  'victim@elsewhere.test%example.test',
  'victim\\@elsewhere.test@example.test',
];

async function rcptReply(port: number, recipient: string): Promise<string> {
  const dialog = await SmtpDialog.open(port);
  await dialog.greet();
  await dialog.command('MAIL FROM:<spammer@outside.test>');
  const reply = await dialog.command(`RCPT TO:<${recipient}>`);
  dialog.close();
  return reply.lines[0];
}

describe('an unauthenticated client on the mx listener', () => {
  it.each(RELAY_TRICKS)('cannot relay to %s', async (recipient) => {
    const reply = await rcptReply(t.port('mx'), recipient);
    expect(reply).toMatch(/^5\d\d 5\.\d+\.\d+ /);
  });

  it('is told 554 5.7.1 for a foreign domain', async () => {
    expect(await rcptReply(t.port('mx'), 'victim@elsewhere.test')).toMatch(/^554 5\.7\.1 Relaying denied/);
  });

  it('is told 550 5.1.1 for an unrouted user of our own domain', async () => {
    expect(await rcptReply(t.port('mx'), 'nobody@example.test')).toMatch(/^550 5\.1\.1 /);
  });

  it('may send to a routed address of our domain, in any letter case', async () => {
    expect(await rcptReply(t.port('mx'), 'postmaster@example.test')).toMatch(/^250 /);
    expect(await rcptReply(t.port('mx'), 'PostMaster@EXAMPLE.TEST')).toMatch(/^250 /);
  });

  it('gets no message into the spool by trying', async () => {
    const dialog = await SmtpDialog.open(t.port('mx'));
    await dialog.greet();
    await dialog.command('MAIL FROM:<spammer@outside.test>');
    const replies: string[] = [];
    for (const recipient of RELAY_TRICKS) {
      const reply = await dialog.command(`RCPT TO:<${recipient}>`);
      replies.push(reply.lines[0]);
      if (reply.code === 421) break;
    }
    // Every trick is refused, and a client that keeps trying is cut off (no RCPT oracle).
    expect(replies.slice(0, -1).every((reply) => /^5\d\d /.test(reply))).toBe(true);
    expect(replies[replies.length - 1]).toMatch(/^421 4\.7\.0 /);
    dialog.close();
    expect(await t.relay.spool.count()).toBe(0);
  });
});

describe('an unauthenticated client on the submission ports', () => {
  it('cannot start a transaction at all (530 5.7.0)', async () => {
    const dialog = await SmtpDialog.open(t.port('submission'));
    await dialog.greet();
    await dialog.startTls(t.certificate.cert, 'mail.example.test');
    await dialog.command('EHLO client.test');
    expect((await dialog.command('MAIL FROM:<app@example.test>')).lines[0]).toMatch(/^530 5\.7\.0 /);
    expect((await dialog.command('RCPT TO:<victim@elsewhere.test>')).code).toBeGreaterThanOrEqual(500);
    dialog.close();
  });
});
