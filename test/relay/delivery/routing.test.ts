import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificate } from '../../helpers/tls';
import { message, startDeliveryEnv, type DeliveryEnv } from './env';
import { parseReport } from './verify';

describe('routing', () => {
  let env: DeliveryEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('bounces at once, with a DSN, mail for a domain that publishes a null MX (RFC 7505)', async () => {
    env = await startDeliveryEnv();
    env.dns.set('nomail.test', { MX: [{ exchange: '', priority: 0 }] });
    const id = await env.submit(message('null mx', 'app@example.test', 'x@nomail.test'), { from: 'app@example.test', to: ['x@nomail.test'] });
    const bounced = await env.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced.reason).toBe('null_mx');
    const [dsn] = await env.home.waitForMessages(1);
    expect(parseReport(dsn.raw).parts[1].body).toMatch(/^Status: 5\.1\.10$/m);
    expect(env.events.filter((event) => event.name === 'deferred')).toHaveLength(0);
  });

  it('delivers to the address of a domain that has no MX record (implicit MX, RFC 5321 5.1)', async () => {
    env = await startDeliveryEnv();
    env.dns.set('plain.test', { A: ['127.0.0.2'] });
    const id = await env.submit(message('implicit mx', 'app@example.test', 'x@plain.test'), { from: 'app@example.test', to: ['x@plain.test'] });
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['x@plain.test']]);
  });

  it('bounces mail for a domain that does not exist', async () => {
    env = await startDeliveryEnv();
    const id = await env.submit(message('nxdomain', 'app@example.test', 'x@missing.test'), { from: 'app@example.test', to: ['x@missing.test'] });
    const bounced = await env.waitForEvent('bounced', (event) => event.id === id);
    expect(bounced.reason).toBe('no_such_domain');
  });

  it('sends everything through the smarthost, authenticating only after STARTTLS, and never logs the password', async () => {
    const certificate = await makeCertificate('smtp.upstream.test');
    const password = 'smarthost-secret-4711';
    env = await startDeliveryEnv({
      remote: { hostname: 'smtp.upstream.test', certificate, auth: { user: 'relay', pass: password } },
      configure: (config, dir) => {
        writeFileSync(join(dir, 'smarthost.pass'), `${password}\n`, { mode: 0o600 });
        config.delivery = { ...config.delivery, smarthost: { host: 'smtp.upstream.test', port: config.delivery?.port ?? 25, username: 'relay', passwordFile: join(dir, 'smarthost.pass') } };
      },
      relayOptions: { delivery: { tlsCa: [certificate.cert] } },
    });
    env.dns.set('smtp.upstream.test', { A: ['127.0.0.2'] });
    // Both recipients' domains would route elsewhere; the smarthost takes them all.
    const id = await env.submit(message('via smarthost'), { from: 'app@example.test', to: ['someone@elsewhere.test', 'x@far-away.test'] });
    await env.waitForEvent('finished', (event) => event.id === id);
    expect(env.remote.messages.map((mail) => mail.rcptTo)).toEqual([['someone@elsewhere.test', 'x@far-away.test']]);
    for (const mail of env.remote.messages) {
      expect(mail.user).toBe('relay');
      expect(mail.secure).toBe(true);
      expect(mail.raw.toString('latin1')).toMatch(/^DKIM-Signature: .*d=example\.test/m);
    }
    expect(env.relay.logs.join('\n')).not.toContain(password);
  });
});
