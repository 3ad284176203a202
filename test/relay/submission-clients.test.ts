import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOSTNAME, PASSWORD, startTestRelay, type TestRelay } from '../helpers/relay';
import { run, SYSTEM_PYTHON } from '../helpers/run';
import { relayTransport } from '../helpers/submit';

let t: TestRelay;
let caFile: string;
beforeAll(async () => {
  t = await startTestRelay();
  caFile = join(t.dir, 'tls.crt');
});
afterAll(() => t.stop());

async function spooledBody(queueId: string): Promise<string> {
  const message = await t.relay.spool.read(queueId);
  return readFileSync(message.path, 'utf8').slice(message.bodyOffset);
}

function queueIdOf(reply: string): string {
  const match = /queued as ([0-9A-Z]+)/.exec(reply);
  if (!match) throw new Error(`no queue id in ${reply}`);
  return match[1];
}

describe('clients we did not write can submit mail', () => {
  it('nodemailer over STARTTLS on submission, with AUTH PLAIN', async () => {
    const transport = relayTransport(t, { listener: 'submission' });
    const info = await transport.sendMail({ from: 'app@example.test', to: 'someone@elsewhere.test', subject: 'hello from nodemailer', text: 'body text' });
    expect(info.response).toMatch(/^250 2\.6\.0 Ok: queued as /);
    const body = await spooledBody(queueIdOf(info.response));
    expect(body).toContain('Subject: hello from nodemailer');
    expect(body).toMatch(/^Received: from [^\r]*\r\n\tby mail\.example\.test \(mxkit\) with ESMTPSA/);
    const envelope = (await t.relay.spool.read(queueIdOf(info.response))).envelope;
    expect(envelope).toMatchObject({ mailFrom: 'app@example.test', rcptTo: ['someone@elsewhere.test'], authUser: 'app', listener: 'submission' });
  });

  it('nodemailer over implicit TLS on submissions, with AUTH LOGIN', async () => {
    const transport = relayTransport(t, { auth: { user: 'app', pass: PASSWORD, method: 'LOGIN' } });
    const info = await transport.sendMail({ from: 'news@app.example.test', to: 'a@elsewhere.test', subject: 'login', text: 'x' });
    expect(info.response).toMatch(/^250 /);
  });

  it("python3's smtplib with starttls and login", async () => {
    const script = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="client.test") as s:
    s._host = "${HOSTNAME}"  # smtplib verifies the certificate against the name it connected to
    s.starttls(context=ctx)
    s.login("app", sys.argv[3])
    refused = s.sendmail("app@example.test", ["x@elsewhere.test"], "Subject: from python\\r\\n\\r\\nhi\\r\\n")
    code, text = s.noop()
    print("ok", refused, code)
`;
    const result = await run(SYSTEM_PYTHON, ['-c', script, String(t.port('submission')), caFile, PASSWORD]);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('ok {} 250');
  });

  it('swaks with STARTTLS, certificate verification and AUTH', async () => {
    const result = await run('swaks', [
      '--server', '127.0.0.1', '--port', String(t.port('submission')),
      '--tls', '--tls-verify', '--tls-ca-path', caFile, '--tls-sni', HOSTNAME,
      '--auth', 'PLAIN', '--auth-user', 'app', '--auth-password', PASSWORD,
      '--from', 'app@example.test', '--to', 'y@elsewhere.test', '--helo', 'client.test',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/<~ {2}250 2\.6\.0 Ok: queued as/);
  });

  it('openssl s_client -starttls smtp verifies our certificate for the hostname', async () => {
    const result = await run(
      'openssl',
      ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${t.port('mx')}`, '-CAfile', caFile, '-verify_hostname', HOSTNAME, '-servername', HOSTNAME, '-crlf', '-quiet', '-verify_return_error'],
      'EHLO client.test\nQUIT\n',
    );
    expect(result.stderr).toContain('verify return:1');
    expect(result.stdout).toMatch(/^250-mail\.example\.test/m);
    expect(result.stdout).toMatch(/^221 /m);
  });
});

describe('what an authenticated user may send', () => {
  const transport = () => relayTransport(t);

  it('refuses a MAIL FROM outside allowedFrom with 553 5.7.1', async () => {
    await expect(transport().sendMail({ from: 'ceo@example.test', to: 'a@elsewhere.test', text: 'x' })).rejects.toMatchObject({
      response: expect.stringMatching(/^553 5\.7\.1 /),
    });
  });

  it('refuses the null sender from a user', async () => {
    await expect(transport().sendMail({ envelope: { from: '', to: 'a@elsewhere.test' }, raw: 'Subject: x\r\n\r\nx\r\n' })).rejects.toMatchObject({
      responseCode: 553,
    });
  });

  it('matches allowedFrom patterns case-insensitively', async () => {
    const info = await transport().sendMail({ from: 'APP@Example.Test', to: 'a@elsewhere.test', text: 'x' });
    expect(info.response).toMatch(/^250 /);
  });
});

describe('failed authentication', () => {
  it('is answered 535 5.7.8, then throttled with 421 once an address keeps failing, and the password never reaches the log', async () => {
    const wrong = 'not-the-password-6d1f';
    const attempt = () =>
      relayTransport(t, { auth: { user: 'app', pass: wrong } })
        .verify()
        .then(
          () => 'ok',
          (error: { response?: string }) => error.response ?? String(error),
        );
    const replies: string[] = [];
    for (let index = 0; index < 4; index++) replies.push(await attempt());
    expect(replies.slice(0, 2)).toEqual([expect.stringMatching(/^535 5\.7\.8 /), expect.stringMatching(/^535 5\.7\.8 /)]);
    expect(replies[2]).toMatch(/^421 4\.7\.0 /);
    expect(replies[3]).toMatch(/^421 4\.7\.0 /);
    // The right password does not help a throttled address either.
    const good = await relayTransport(t)
      .verify()
      .catch((error: { response?: string }) => error.response);
    expect(good).toMatch(/^421 4\.7\.0 /);
    const log = t.logs.join('\n');
    expect(log).toContain('AUTH failed');
    expect(log).not.toContain(wrong);
    expect(log).not.toContain(PASSWORD);
    writeFileSync(join(t.dir, 'log.txt'), log);
  });
});
