import { generateKeyPairSync } from 'node:crypto';
import { authenticate } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign';
import { dkimValue } from '../../../infra/builders/records';
import { HOSTNAME } from '../../helpers/relay';
import { run, SYSTEM_PYTHON } from '../../helpers/run';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { startDeliveryEnv, type DeliveryEnv } from './env';
import { resolverFor } from './verify';

const ARC_VERIFY = `
import sys, json, dkim
table = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    value = table.get((name.decode() if isinstance(name, bytes) else name).rstrip('.').lower())
    return value.encode() if value else None
cv, results, comment = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print(cv.decode())
`;

/** Sends one message to the relay's mx listener; returns the reply to RCPT or to DATA. */
async function sendToMx(env: DeliveryEnv, from: string, to: string, raw: string): Promise<{ code: number; text: string }> {
  const client = await SmtpDialog.open(env.relay.port('mx'));
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
    const rcpt = await client.command(`RCPT TO:<${to}>`);
    if (rcpt.code !== 250) return rcpt;
    return await client.data(raw);
  } finally {
    client.close();
  }
}

describe('inbound mail for our domains', () => {
  let env: DeliveryEnv;
  let senderKey: string;
  let srsAddress = '';

  beforeAll(async () => {
    env = await startDeliveryEnv();
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    senderKey = keys.privateKey;
    env.dns.set('sender.test', { MX: [{ exchange: 'mx.sender.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] });
    env.dns.set('mx.sender.test', { A: ['127.0.0.3'] });
    env.dns.set('s1._domainkey.sender.test', { TXT: [dkimValue(keys.publicKey)] });
    env.dns.set('_dmarc.sender.test', { TXT: ['v=DMARC1; p=reject'] });
    env.dns.set('evil.test', { TXT: ['v=spf1 -all'] });
  });
  afterAll(() => env.stop());

  it('forwards a message from a third domain to the route target with an SRS envelope sender, Authentication-Results and an ARC seal that validates', async () => {
    const raw = ['From: Alice <alice@sender.test>', 'To: <postmaster@example.test>', 'Subject: hello postmaster', `Date: ${new Date().toUTCString()}`, 'Message-ID: <a1@sender.test>', '', 'Hi there.', ''].join('\r\n');
    const signature = await dkimSign(raw, { signTime: new Date(), signingDomain: 'sender.test', selector: 's1', privateKey: senderKey, signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: senderKey }] });
    const reply = await sendToMx(env, 'alice@sender.test', 'postmaster@example.test', signature.signatures + raw);
    expect(reply.code).toBe(250);

    const [forwarded] = await env.remote.waitForMessages(1);
    expect(forwarded.rcptTo).toEqual(['ops@elsewhere.test']);
    expect(forwarded.mailFrom).toMatch(/^SRS0=[a-z2-7]{8}=[a-z2-7]{2}=sender\.test=alice@example\.test$/);
    srsAddress = forwarded.mailFrom;
    const text = forwarded.raw.toString('latin1');
    expect(text).toMatch(/^Authentication-Results: mail\.example\.test;/m);
    expect(text).toMatch(/spf=pass/);
    expect(text).toMatch(/dkim=pass[^;]*header\.[id]=@?sender\.test/);
    expect(text).toMatch(/dmarc=pass/);
    expect(text).toMatch(/^ARC-Seal: i=1; .*d=example\.test/m);
    expect(text).not.toMatch(/^DKIM-Signature: .*d=example\.test/m); // strangers' mail is sealed, never signed as ours

    // The next hop (here: mailauth, and python3-dkim independently) validates our ARC set, and SPF
    // passes for the SRS sender from our address.
    const verdict = await authenticate(forwarded.raw, { ip: forwarded.remoteAddress.replace(/^::ffff:/, ''), helo: HOSTNAME, sender: forwarded.mailFrom, mta: 'mx.elsewhere.test', resolver: resolverFor(env.dns) });
    expect(verdict.arc && verdict.arc.status.result).toBe('pass');
    expect(verdict.spf && verdict.spf.status.result).toBe('pass');
    const table = Object.fromEntries([...env.dns.zones.entries()].filter(([, zone]) => zone.TXT).map(([name, zone]) => [name, (zone.TXT ?? []).join('')]));
    const arc = await run(SYSTEM_PYTHON, ['-c', ARC_VERIFY, JSON.stringify(table)], forwarded.raw.toString('latin1'));
    expect(arc.stdout.trim()).toBe('pass');
  });

  it('returns a bounce sent to the SRS address to the original sender, un-rewritten', async () => {
    expect(srsAddress).not.toBe('');
    const reply = await sendToMx(env, '', srsAddress, ['From: MAILER-DAEMON@mx.elsewhere.test', `To: <${srsAddress}>`, 'Subject: Undelivered', '', 'gone', ''].join('\r\n'));
    expect(reply.code).toBe(250);
    const [bounce] = await env.home.waitForMessages(1);
    expect(bounce.rcptTo).toEqual(['alice@sender.test']);
    expect(bounce.mailFrom).toBe('');
  });

  it('refuses an SRS address whose hash does not check out', async () => {
    const forged = srsAddress.replace(/^SRS0=[^=]{8}=/, 'SRS0=aaaaaaaa=');
    const reply = await sendToMx(env, '', forged, 'Subject: x\r\n\r\nx\r\n');
    expect(reply.code).toBe(550);
  });

  it('refuses a valid SRS address from a non-null sender like an unknown user, and queues nothing (no open relay)', async () => {
    expect(srsAddress).not.toBe('');
    const before = await env.relay.relay.spool.count();
    const reply = await sendToMx(env, 'mallory@evil.test', srsAddress, 'Subject: relay me\r\n\r\nx\r\n');
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(/^5\.1\.1 /);
    // The same answer as for an SRS address that does not verify: RCPT tells nothing.
    const forged = await sendToMx(env, 'mallory@evil.test', srsAddress.replace(/^SRS0=[^=]{8}=/, 'SRS0=aaaaaaaa='), 'Subject: x\r\n\r\nx\r\n');
    expect(forged.code).toBe(550);
    expect(forged.text.replace(/<[^>]*>/, '')).toBe(reply.text.replace(/<[^>]*>/, ''));
    expect(await env.relay.relay.spool.count()).toBe(before);
  });

  it('drops Authentication-Results a sender forged in our name before adding its own (RFC 8601 5), and keeps others', async () => {
    const already = env.remote.messages.length;
    const raw = [
      'Authentication-Results: mail.example.test; spf=pass; dkim=pass; dmarc=pass header.from=bank.test',
      'Authentication-Results: mx.upstream.test;',
      '  spf=pass smtp.mailfrom=someone@upstream.test',
      'From: Bank <security@evil.test>',
      'To: <info@example.test>',
      'Subject: verify your account',
      '',
      'click',
      '',
    ].join('\r\n');
    expect((await sendToMx(env, 'mallory@evil.test', 'info@example.test', raw)).code).toBe(250);
    const forwarded = (await env.remote.waitForMessages(already + 1))[already];
    const text = forwarded.raw.toString('latin1');
    const ours = text.match(/^Authentication-Results: mail\.example\.test;[^\r]*(\r\n[ \t][^\r]*)*/gm) ?? [];
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/spf=fail/);
    expect(ours[0]).not.toMatch(/header\.from=bank\.test/);
    expect(text).toMatch(/^Authentication-Results: mx\.upstream\.test;\r\n {2}spf=pass/m);
  });

  it('accepts, marks and forwards a message failing DMARC for a p=quarantine domain', async () => {
    env.dns.set('_dmarc.careful.test', { TXT: ['v=DMARC1; p=quarantine'] });
    env.dns.set('careful.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    const already = env.remote.messages.length;
    const raw = ['From: Treasurer <treasurer@careful.test>', 'To: <info@example.test>', 'Subject: invoice', '', 'pay this', ''].join('\r\n');
    const reply = await sendToMx(env, 'mallet@evil.test', 'info@example.test', raw);
    expect(reply.code).toBe(250);
    const forwarded = (await env.remote.waitForMessages(already + 1))[already];
    const text = forwarded.raw.toString('latin1');
    expect(text).toMatch(/^X-Mxkit-Quarantine: dmarc=fail policy=quarantine header\.from=careful\.test/m);
    expect(text).toMatch(/^X-Spam-Flag: YES/m);
    expect(text).toMatch(/dmarc=fail/);
  });

  it('refuses at DATA with 550 5.7.1 a message failing DMARC for a p=reject domain, and queues nothing', async () => {
    const raw = ['From: CEO <ceo@sender.test>', 'To: <info@example.test>', 'Subject: wire the money', '', 'now', ''].join('\r\n');
    const reply = await sendToMx(env, 'mallory@evil.test', 'info@example.test', raw);
    expect(reply.code).toBe(550);
    expect(reply.text).toMatch(/^5\.7\.1 .*DMARC/);
    // Other tests' messages may still be leaving the spool; none of this sender's may be in it.
    expect((await env.relay.relay.spool.list()).filter((message) => message.envelope.mailFrom === 'mallory@evil.test')).toEqual([]);
  });
});
