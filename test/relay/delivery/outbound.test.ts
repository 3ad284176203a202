import { spf } from 'mailauth/lib/spf';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { HOSTNAME } from '../../helpers/relay';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';
import { dkimpyVerify, parseReport, resolverFor } from './verify';

describe('outbound delivery', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('delivers a submitted message to the MX over STARTTLS, DKIM-signed so python3-dkim passes it, from an address SPF passes', async () => {
    env = await startDeliveryEnv();
    await env.submit(message('signed'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const [received] = await env.remote.waitForMessages(1);
    expect(received.secure).toBe(true);
    expect(received.mailFrom).toBe('app@example.test');
    expect(received.rcptTo).toEqual(['someone@elsewhere.test']);
    const text = received.raw.toString('latin1');
    expect(text).toMatch(/^DKIM-Signature: .*d=example\.test/m);
    expect(text).toMatch(/a=rsa-sha256/);
    expect(text).toMatch(/c=relaxed\/relaxed/);
    expect(await dkimpyVerify(received.raw, env.dns)).toBe('pass');
    const spfResult = await spf({ sender: received.mailFrom, ip: received.remoteAddress.replace(/^::ffff:/, ''), helo: HOSTNAME, mta: 'mx.elsewhere.test', resolver: resolverFor(env.dns) });
    expect(spfResult.status.result).toBe('pass');
    const delivered = await env.waitForEvent('delivered');
    expect(delivered.tls).toBe(true);
    const metrics = await env.relay.relay.metrics.registry.getSingleMetricAsString('mxkit_delivery_delivered_total');
    expect(metrics).toMatch(/mxkit_delivery_delivered_total\{route="mx",tls="yes"\} 1/);
  });

  it('retries a receiver that answers 451 twice and delivers on the third attempt, exactly once', async () => {
    env = await startDeliveryEnv({ remote: { dataReplies: [451, 451] } });
    const id = await env.submit(message('retried'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.remote.transactions).toBe(3);
    expect(env.remote.messages).toHaveLength(1);
    expect(env.events.filter((event) => event.name === 'deferred')).toHaveLength(2);
    expect(env.events.filter((event) => event.name === 'delivered')).toHaveLength(1);
    expect(await env.relay.relay.spool.count()).toBe(0);
  });

  it('answers a 550 with one RFC 3464 DSN to the sender: multipart/report from MAILER-DAEMON with a null envelope sender and the original headers', async () => {
    env = await startDeliveryEnv({ remote: { rcptReply: (address) => (address === 'nobody@elsewhere.test' ? 550 : undefined) } });
    const id = await env.submit(message('refused', 'app@example.test', 'nobody@elsewhere.test'), { from: 'app@example.test', to: ['nobody@elsewhere.test', 'someone@elsewhere.test'] });
    const dsnEvent = await env.waitForEvent('dsn', (event) => event.id === id);
    await env.waitForEvent('finished', (event) => event.id === dsnEvent.dsnId);
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['someone@elsewhere.test']]);
    expect(env.home.messages).toHaveLength(1);
    const [dsn] = env.home.messages;
    expect(dsn.mailFrom).toBe('');
    expect(dsn.rcptTo).toEqual(['app@example.test']);
    const report = parseReport(dsn.raw);
    expect(report.headers).toMatch(/^From: .*<MAILER-DAEMON@mail\.example\.test>/m);
    expect(report.contentType).toMatch(/^multipart\/report; report-type=delivery-status;/);
    expect(report.parts.map((part) => part.contentType)).toEqual(['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    const status = report.parts[1].body;
    expect(status).toMatch(/^Reporting-MTA: dns; mail\.example\.test$/m);
    expect(status).toMatch(/^Final-Recipient: rfc822; nobody@elsewhere\.test$/m);
    expect(status).toMatch(/^Action: failed$/m);
    expect(status).toMatch(/^Status: 5\.1\.1$/m);
    expect(status).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1/m);
    expect(status).not.toMatch(/someone@elsewhere\.test/);
    expect(report.parts[2].body).toMatch(/^Subject: refused$/m);
    // The DSN is signed too (From is our hostname; example.test's key aligns under relaxed DMARC).
    expect(await dkimpyVerify(dsn.raw, env.dns)).toBe('pass');
  });

  it('sends no DSN when a message with a null sender bounces', async () => {
    env = await startDeliveryEnv({ remote: { dataReplies: [550] } });
    // A bounce arriving on mx for a routed address is forwarded; its next hop refuses it.
    const client = await SmtpDialog.open(env.relay.port('mx'));
    await client.greet();
    expect((await client.command('MAIL FROM:<>')).code).toBe(250);
    expect((await client.command('RCPT TO:<info@example.test>')).code).toBe(250);
    const accepted = await client.data(['From: <mailer-daemon@third.test>', 'To: <info@example.test>', 'Subject: bounce', '', 'bounced', ''].join('\r\n'));
    expect(accepted.code).toBe(250);
    client.close();
    const id = /queued as ([0-9A-Z]+)/.exec(accepted.text)?.[1];
    await env.waitForEvent('dsn-suppressed', (event) => event.id === id);
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.events.filter((event) => event.name === 'bounced')).toHaveLength(1);
    expect(env.events.filter((event) => event.name === 'dsn')).toHaveLength(0);
    expect(env.home.messages).toHaveLength(0);
    expect(await env.relay.relay.spool.count()).toBe(0);
  });

  it('gives up after delivery.maxQueueTime and returns a DSN saying the delivery time expired', async () => {
    env = await startDeliveryEnv({
      remote: { dataReplies: Array.from({ length: 100 }, () => 451) },
      configure: (config) => {
        config.delivery = { ...config.delivery, retrySchedule: ['1s'], maxQueueTime: '3s' };
      },
    });
    const id = await env.submit(message('expiring'), { from: 'app@example.test', to: ['someone@elsewhere.test'] });
    const bounced = await env.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced.reason).toBe('expired');
    const dsnEvent = await env.waitForEvent('dsn', (event) => event.id === id);
    await env.waitForEvent('finished', (event) => event.id === dsnEvent.dsnId);
    expect(env.remote.messages).toHaveLength(0);
    expect(env.remote.transactions).toBeGreaterThanOrEqual(2);
    const status = parseReport(env.home.messages[0].raw).parts[1].body;
    expect(status).toMatch(/^Action: failed$/m);
    expect(status).toMatch(/^Status: 4\.4\.7$/m);
    expect(status).toMatch(/451 4\.3\.0/);
  });
});
