/**
 * The submission ports as a message submission agent (RFC 6409 section 8), end to end: what clients
 * leave out is added, Bcc is removed, LF-only mail is delivered with CRLF byte for byte, the DKIM
 * signature over-signs From, and no smuggling variant makes a second message even though bare line
 * endings are now normalised instead of refused.
 */
import { readFileSync } from 'node:fs';
import { HOSTNAME, PASSWORD } from '../../helpers/relay';
import { run, SYSTEM_PYTHON } from '../../helpers/run';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { smtpTransport } from '../../helpers/submit';
import { startDeliveryEnv, type DeliveryEnv } from '../delivery/env';
import { dkimpyVerify } from '../delivery/verify';
import { FAKE_TERMINATORS } from '../../helpers/smuggling';

let env: DeliveryEnv;
beforeAll(async () => {
  env = await startDeliveryEnv({
    configure: (config) => {
      // Submission over IPv6 loopback, for the Received line's address literal.
      config.listen.submission = { host: '::1', port: 0 };
    },
  });
});
afterAll(() => env.stop());

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Waits for the next message at the remote MTA and returns its raw text. */
async function nextDelivered(send: () => Promise<unknown>): Promise<string> {
  const before = env.remote.messages.length;
  await send();
  const all = await env.remote.waitForMessages(before + 1);
  return all[before].raw.toString('utf8');
}

function headerOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

async function authenticatedDialog(): Promise<SmtpDialog> {
  const smtp = await SmtpDialog.open(env.relay.port('submissions'), { implicitTls: { ca: env.relay.certificate.cert, servername: HOSTNAME } });
  await smtp.greet();
  expect((await smtp.command(`AUTH PLAIN ${b64(`\0app\0${PASSWORD}`)}`)).code).toBe(235);
  return smtp;
}

describe('the submission ports complete and clean what clients send', () => {
  it('adds Date and a Message-ID at the sending domain to a message that has neither', async () => {
    const raw = await nextDelivered(() => env.submit('From: App <app@example.test>\r\nTo: someone@elsewhere.test\r\nSubject: bare\r\n\r\nbody\r\n', { from: 'app@example.test', to: ['someone@elsewhere.test'] }));
    const header = headerOf(raw);
    expect(header).toMatch(/\r\nDate: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    expect(header).toMatch(/\r\nMessage-ID: <[0-9A-Z]+\.[0-9a-f]{12}@example\.test>\r\n/);
  });

  it('never lets a Bcc: reach any recipient, the Bcc recipient included', async () => {
    const before = env.remote.messages.length;
    await env.submit('From: app@example.test\r\nTo: someone@elsewhere.test\r\nBcc: hidden@elsewhere.test,\r\n\tother-hidden@elsewhere.test\r\nSubject: bcc\r\n\r\nbody\r\n', {
      from: 'app@example.test',
      to: ['someone@elsewhere.test', 'hidden@elsewhere.test'],
    });
    const [delivered] = (await env.remote.waitForMessages(before + 1)).slice(before);
    expect(delivered.rcptTo.sort()).toEqual(['hidden@elsewhere.test', 'someone@elsewhere.test']);
    expect(delivered.raw.toString()).not.toMatch(/^bcc:|hidden@elsewhere\.test/im);
  });

  it('signs with From listed twice in h=, which python3-dkim verifies', async () => {
    const raw = await nextDelivered(() => env.submit('From: app@example.test\r\nTo: someone@elsewhere.test\r\nSubject: oversigned\r\nDate: Tue, 1 Jan 2030 10:00:00 +0000\r\nMessage-ID: <o@example.test>\r\n\r\nbody\r\n', { from: 'app@example.test', to: ['someone@elsewhere.test'] }));
    const signature = /^DKIM-Signature:(.*(?:\r\n[ \t].*)*)/m.exec(raw)?.[1].replace(/\s+/g, '') ?? '';
    const names = /;h=([^;]+)/.exec(signature)?.[1].split(':') ?? [];
    expect(names.filter((name) => name === 'from')).toHaveLength(2);
    expect(names).toEqual(expect.arrayContaining(['reply-to', 'cc', 'in-reply-to', 'references']));
    expect(await dkimpyVerify(Buffer.from(raw, 'latin1'), env.dns)).toBe('pass');
  });

  it("delivers python3 smtplib's LF-only sendmail byte for byte with CRLF, dot-stuffed lines included", async () => {
    const script = `
import smtplib, ssl, sys
from email.message import EmailMessage
msg = EmailMessage()
msg['From'] = 'app@example.test'
msg['To'] = 'someone@elsewhere.test'
msg['Subject'] = 'lf only'
msg['Date'] = 'Tue, 01 Jan 2030 10:00:00 +0000'
msg['Message-ID'] = '<lf-only@example.test>'
msg.set_content('first line\\n.leading dot\\n..two dots\\n.\\nlast line\\n')
data = msg.as_bytes()
assert b'\\r' not in data
open(sys.argv[3], 'wb').write(data)
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP('::1', int(sys.argv[1]))
s._host = '${HOSTNAME}'  # smtplib verifies the certificate against the name it connected to
s.starttls(context=ctx)
s.login('app', '${PASSWORD}')
s.sendmail('app@example.test', ['someone@elsewhere.test'], data)
s.quit()
`;
    const caFile = `${env.relay.dir}/tls.crt`;
    const sentFile = `${env.relay.dir}/lf-only.eml`;
    const raw = await nextDelivered(async () => {
      const result = await run(SYSTEM_PYTHON, ['-c', script, String(env.relay.port('submission')), caFile, sentFile]);
      if (result.code !== 0) throw new Error(result.stderr);
    });
    const sent = readFileSync(sentFile, 'latin1');
    expect(raw.endsWith(sent.replace(/\n/g, '\r\n'))).toBe(true);
    expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('writes an IPv6 client as [IPv6:...] in the Received line', async () => {
    const transport = smtpTransport({ host: '::1', port: env.relay.port('submission'), ca: env.relay.certificate.cert }, { listener: 'submission' });
    const raw = await nextDelivered(() => transport.sendMail({ from: 'app@example.test', to: 'someone@elsewhere.test', subject: 'v6', text: 'x' }));
    expect(raw).toMatch(/^(?:DKIM-Signature:.*(?:\r\n[ \t].*)*\r\n)?Received: from \S+ \(\[IPv6:::1\]\)\r\n\tby mail\.example\.test \(mxkit\) with ESMTPSA/);
  });

  it('keeps a UTF-8 recipient in the Received line and names the protocol UTF8SMTPSA under SMTPUTF8', async () => {
    const text = await nextDelivered(async () => {
      const smtp = await authenticatedDialog();
      expect((await smtp.command('MAIL FROM:<app@example.test> SMTPUTF8')).code).toBe(250);
      expect((await smtp.command('RCPT TO:<jörg@elsewhere.test>')).code).toBe(250);
      expect((await smtp.data('From: app@example.test\r\nTo: jörg@elsewhere.test\r\nSubject: utf8\r\n\r\nbody\r\n')).code).toBe(250);
      smtp.close();
    });
    expect(text).toMatch(/with UTF8SMTPSA \(TLSv1\.[23] [^)]*\) id \S+\r\n\tfor <jörg@elsewhere\.test>;/);
  });
});

const SMUGGLED = 'MAIL FROM:<app@example.test>\r\nRCPT TO:<victim@elsewhere.test>\r\nDATA\r\nFrom: ceo@example.test\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';

describe('smuggling on submission, where bare line endings are normalised', () => {
  it.each(FAKE_TERMINATORS)('%s is one message, here and at the next server', async (name, fake) => {
    const smtp = await authenticatedDialog();
    await smtp.command('MAIL FROM:<app@example.test>');
    await smtp.command('RCPT TO:<someone@elsewhere.test>');
    const before = env.remote.messages.length;
    const reply = await smtp.data(`From: app@example.test\r\nSubject: first ${name}\r\n\r\nhello${fake}${SMUGGLED}`);
    expect(reply.lines[0]).toMatch(/^250 2\.6\.0 /);
    // The very next reply answers our NOOP: nothing inside the message was run as a command.
    expect((await smtp.command('NOOP')).lines[0]).toMatch(/^250 /);
    smtp.close();
    const id = /queued as (\S+)/.exec(reply.text)?.[1] ?? '';
    await env.waitForEvent('finished', (payload) => payload.id === id);
    const arrived = env.remote.messages.slice(before);
    expect(arrived).toHaveLength(1);
    expect(arrived[0].rcptTo).toEqual(['someone@elsewhere.test']);
    const text = arrived[0].raw.toString('latin1');
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(text).toContain('Subject: smuggled');
  });
});
