/** A client connecting over IPv6 is asked about in nibble form (RFC 5782 2.4) and refused like an IPv4 one. */
import { startDnsServer, type TestDnsServer } from '../../helpers/dns-server';
import { startTestRelay, type TestRelay } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';

let dns: TestDnsServer;
let relay: TestRelay;
beforeAll(async () => {
  dns = await startDnsServer({ [`1${'.0'.repeat(31)}.bl.test`]: { A: ['127.0.0.2'] } });
  relay = await startTestRelay((config) => {
    config.listen.mx = { host: '::1', port: 0 };
    config.delivery = { dnsServers: [dns.address] };
    config.spam = { dnsbl: [{ zone: 'bl.test', action: 'reject' }] };
  });
});
afterAll(async () => {
  await relay?.stop();
  await dns?.close();
});

it('refuses a client on ::1 listed in a reject zone at RCPT, naming the list and the IPv6 address', async () => {
  const client = await SmtpDialog.open(relay.port('mx'), { host: '::1' });
  try {
    await client.greet();
    expect((await client.command('MAIL FROM:<alice@sender.test>')).code).toBe(250);
    expect((await client.command('RCPT TO:<info@example.test>')).lines[0]).toBe('554 5.7.1 Service unavailable; client [::1] blocked using bl.test');
  } finally {
    client.close();
  }
});
