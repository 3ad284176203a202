/**
 * The spam filter in a running relay, against the real engine (Debian's rspamd) and a DNS block
 * list served by the test DNS: what a sending MTA, our own users and the next hop observe.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PASSWORD } from '../../helpers/relay';
import { GTUBE, GTUBE_ADD_HEADER, GTUBE_REWRITE_SUBJECT, startTestRspamd, type TestRspamd } from '../../helpers/rspamd';
import { SmtpDialog, type Reply } from '../../helpers/smtp-dialog';
import { relayTransport } from '../../helpers/submit';
import { startDeliveryEnv, message, type DeliveryEnv } from '../delivery/env';

/** One message to the relay's mx listener from `localAddress`; the reply to RCPT if refused, else to DATA. */
async function sendToMx(env: DeliveryEnv, raw: string, options: { localAddress?: string; from?: string; to?: string } = {}): Promise<Reply> {
  const client = await SmtpDialog.open(env.relay.port('mx'), { localAddress: options.localAddress ?? '127.0.0.1' });
  try {
    await client.read();
    await client.command('EHLO mta.sender.test');
    expect((await client.command(`MAIL FROM:<${options.from ?? 'alice@sender.test'}>`)).code).toBe(250);
    const rcpt = await client.command(`RCPT TO:<${options.to ?? 'info@example.test'}>`);
    if (rcpt.code !== 250) return rcpt;
    return await client.data(raw);
  } finally {
    client.close();
  }
}

const inbound = (subject: string, body: string, extraHeaders: string[] = []) =>
  [...extraHeaders, 'From: Alice <alice@sender.test>', 'To: <info@example.test>', `Subject: ${subject}`, `Date: ${new Date().toUTCString()}`, `Message-ID: <${subject.replace(/\W/g, '')}@sender.test>`, '', body, ''].join('\r\n');

async function metricsText(env: DeliveryEnv): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${env.relay.port('http')}/metrics`);
  return response.text();
}

async function forwarded(env: DeliveryEnv, subject: RegExp): Promise<string> {
  for (;;) {
    const found = env.remote.messages.find((mail) => subject.test(mail.raw.toString('latin1')));
    if (found) return found.raw.toString('latin1');
    await env.remote.waitForMessages(env.remote.messages.length + 1);
  }
}

/** Messages answered 250 on a listener so far. */
async function accepted(env: DeliveryEnv, listener: string): Promise<number> {
  const { values } = await env.relay.relay.metrics.accepted.get();
  return values.find((value) => value.labels.listener === listener)?.value ?? 0;
}

function headerSection(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
}

describe('spam filtering in the relay (rspamd + DNSBL)', () => {
  let rspamd: TestRspamd;
  let env: DeliveryEnv;

  beforeAll(async () => {
    rspamd = await startTestRspamd();
    env = await startDeliveryEnv({
      configure: (config) => {
        config.spam = {
          dnsbl: [
            { zone: 'bl.test', action: 'reject' },
            { zone: 'flag.test', action: 'flag' },
            { zone: 'refusing.test', action: 'reject' },
          ],
          dnsblTimeout: '2s',
          rspamd: { url: rspamd.url, flagScore: 6, rejectScore: 15, timeout: '10s', onError: 'accept' },
        };
        config.trustedNetworks = ['127.0.0.6/32'];
        const hash = config.users?.[0]?.passwordHash ?? '';
        config.users = [...(config.users ?? []), { username: 'limited', passwordHash: hash, allowedFrom: ['limited@example.test'], maxMessagesPerHour: 2 }];
      },
    });
    env.dns.set('2.0.0.127.bl.test', { A: ['127.0.0.2'] });
    env.dns.set('4.0.0.127.flag.test', { A: ['127.0.0.3'] });
    env.dns.set('5.0.0.127.refusing.test', { A: ['127.255.255.254'] });
    env.dns.set('6.0.0.127.bl.test', { A: ['127.0.0.2'] });
  });
  afterAll(async () => {
    await env?.stop();
    await rspamd?.close();
  });

  it('refuses GTUBE on mx with 550 5.7.1 and rspamd\'s reason, and spools nothing', async () => {
    const before = await accepted(env, 'mx');
    const reply = await sendToMx(env, inbound('gtube', `Buy now.\r\n${GTUBE}`), { from: 'spammer@sender.test' });
    expect(reply.lines[0]).toBe('550 5.7.1 Message rejected as spam: Gtube pattern');
    expect((await env.relay.relay.spool.list()).filter((spooled) => spooled.envelope.mailFrom === 'spammer@sender.test')).toEqual([]);
    expect(readdirSync(join(env.relay.dir, 'spool', 'tmp'))).toEqual([]);
    expect(await accepted(env, 'mx')).toBe(before);
  });

  it('forwards a flagged message with X-Spam: Yes, its score and symbols, and drops the sender\'s own X-Spam', async () => {
    const reply = await sendToMx(env, inbound('flag me', GTUBE_ADD_HEADER, ['X-Spam: No', 'X-Spam-Score: -100']));
    expect(reply.code).toBe(250);
    const headers = headerSection(await forwarded(env, /Subject: flag me/));
    expect(headers.match(/^X-Spam: .*$/gm)).toEqual(['X-Spam: Yes']);
    expect(headers.match(/^X-Spam-Score: .*$/gm)).toEqual(['X-Spam-Score: 6.00']);
    expect(headers).toMatch(/^X-Spamd-Result: default: True \[6\.00 \/ 15\.00\];\r\n\tGTUBE\(0\.00\)/m);
  });

  it('puts the subject tag rspamd asks for into the forwarded Subject', async () => {
    expect((await sendToMx(env, inbound('quarterly report', GTUBE_REWRITE_SUBJECT))).code).toBe(250);
    const headers = headerSection(await forwarded(env, /quarterly report/));
    expect(headers.match(/^Subject: .*$/gm)).toEqual(['Subject: *** SPAM *** quarterly report']);
    expect(headers).toMatch(/^X-Spam: Yes$/m);
  });

  it('passes an ordinary message unflagged', async () => {
    const reply = await sendToMx(env, inbound('minutes', 'Hi,\r\n\r\nthe minutes of Tuesday, as promised.\r\n\r\nAlice'));
    expect(reply.code).toBe(250);
    const headers = headerSection(await forwarded(env, /Subject: minutes/));
    expect(headers).not.toMatch(/^X-Spam/im);
  });

  it('refuses a client listed in a reject zone at RCPT with 554 5.7.1 naming the list', async () => {
    const reply = await sendToMx(env, inbound('listed', 'hello'), { localAddress: '127.0.0.2' });
    expect(reply.lines[0]).toBe('554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test');
    await env.relay.waitForLog(/client is on a DNS block list/);
  });

  it('flags, but accepts, mail from a client listed in a flag zone', async () => {
    expect((await sendToMx(env, inbound('from a flagged host', 'hello'), { localAddress: '127.0.0.4' })).code).toBe(250);
    const headers = headerSection(await forwarded(env, /from a flagged host/));
    expect(headers).toMatch(/^X-Spam: Yes$/m);
    expect(headers).toMatch(/^X-Spam-DNSBL: flag\.test \(127\.0\.0\.3\)$/m);
  });

  it('takes a 127.255.255.254 answer as "not listed", logs it once and counts it', async () => {
    expect((await sendToMx(env, inbound('refused query 1', 'hello'), { localAddress: '127.0.0.5' })).code).toBe(250);
    expect((await sendToMx(env, inbound('refused query 2', 'hello'), { localAddress: '127.0.0.5' })).code).toBe(250);
    expect(env.relay.logs.filter((line) => line.includes('DNSBL refused our query'))).toHaveLength(1);
    expect(await metricsText(env)).toMatch(/^mxkit_dnsbl_refused_total\{zone="refusing\.test"\} [1-9]/m);
  });

  it('never screens a client in trustedNetworks', async () => {
    expect((await sendToMx(env, inbound('trusted host', 'hello'), { localAddress: '127.0.0.6' })).code).toBe(250);
  });

  it('refuses GTUBE from an authenticated user at DATA with 550 5.7.1, so the sending client sees it at once', async () => {
    const before = await accepted(env, 'submissions');
    const failure = await env.submit(message(`compromised\r\n\r\n${GTUBE}`), { from: 'app@example.test', to: ['someone@elsewhere.test'] }).then(
      () => undefined,
      (error: { responseCode?: number; response?: string }) => error,
    );
    expect(failure?.responseCode).toBe(550);
    expect(failure?.response).toMatch(/^550 5\.7\.1 Message rejected as spam: Gtube pattern/);
    expect(await accepted(env, 'submissions')).toBe(before);
    expect(readdirSync(join(env.relay.dir, 'spool', 'tmp'))).toEqual([]);
  });

  it('sends an authenticated user\'s ordinary mail without stamping it', async () => {
    await env.submit(message('outbound newsletter'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    expect(headerSection(await forwarded(env, /outbound newsletter/))).not.toMatch(/^X-Spam/im);
  });

  it('answers the (N+1)th message of a user over its hourly limit with 450 4.7.1 and when to retry', async () => {
    const transport = relayTransport(env.relay, { auth: { user: 'limited', pass: PASSWORD } });
    try {
      const send = (n: number) => transport.sendMail({ envelope: { from: 'limited@example.test', to: ['someone@elsewhere.test'] }, raw: message(`limited ${n}`, 'limited@example.test') });
      await send(1);
      await send(2);
      const third = await send(3).then(
        () => undefined,
        (error: { responseCode?: number; response?: string }) => error,
      );
      expect(third?.responseCode).toBe(450);
      expect(third?.response).toMatch(/^450 4\.7\.1 Sending limit of 2 messages per hour reached; try again after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 60 min\)$/);
    } finally {
      transport.close();
    }
    expect(await metricsText(env)).toMatch(/^mxkit_user_rate_limited_total\{user="limited"\} 1$/m);
  });

  it('exposes verdicts by action, DNSBL hits by zone and rspamd latency as metrics', async () => {
    const text = await metricsText(env);
    expect(text).toMatch(/^mxkit_spam_verdicts_total\{listener="mx",action="reject"\} [1-9]/m);
    expect(text).toMatch(/^mxkit_spam_verdicts_total\{listener="mx",action="flag"\} [1-9]/m);
    expect(text).toMatch(/^mxkit_spam_verdicts_total\{listener="mx",action="accept"\} [1-9]/m);
    expect(text).toMatch(/^mxkit_spam_verdicts_total\{listener="submissions",action="reject"\} 1$/m);
    expect(text).toMatch(/^mxkit_dnsbl_hits_total\{zone="bl\.test",action="reject"\} [1-9]/m);
    expect(text).toMatch(/^mxkit_dnsbl_hits_total\{zone="flag\.test",action="flag"\} [1-9]/m);
    expect(text).toMatch(/^mxkit_rspamd_scan_seconds_count [1-9]/m);
    expect(text).toMatch(/^mxkit_messages_rejected_total\{listener="mx",reason="dnsbl_listed"\} [1-9]/m);
  });
});
