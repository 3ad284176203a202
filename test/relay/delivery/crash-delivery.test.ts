import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dkimValue } from '../../../infra/builders/records';
import { startChildRelay } from '../../helpers/child-relay';
import { startDnsServer } from '../../helpers/dns-server';
import { startReceiver } from '../../helpers/receiver';
import { writeRelayFiles } from '../../helpers/relay';
import { smtpTransport } from '../../helpers/submit';

const messageId = (raw: Buffer) => /^Message-ID: <([^>]+)>/im.exec(raw.toString('latin1'))?.[1] ?? '';

describe('a relay killed with SIGKILL in the middle of delivering', () => {
  it('delivers every acknowledged message at least once after a restart, losing none', async () => {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const remote = await startReceiver({ host: '127.0.0.2' });
    const dns = await startDnsServer({
      'elsewhere.test': { MX: [{ exchange: 'mx.elsewhere.test', priority: 10 }] },
      'mx.elsewhere.test': { A: ['127.0.0.2'] },
      'mx1._domainkey.example.test': { TXT: [dkimValue(keys.publicKey)] },
    });
    const files = await writeRelayFiles((config, dir) => {
      writeFileSync(join(dir, 'dkim.key'), keys.privateKey, { mode: 0o600 });
      config.listen = { submissions: { host: '127.0.0.1', port: 0 } };
      config.dkim = [{ domain: 'example.test', selector: 'mx1', keyFile: join(dir, 'dkim.key') }];
      config.delivery = { dnsServers: [dns.address], port: remote.port, retrySchedule: ['200ms'], allowPrivateAddresses: true };
    });
    const relay = await startChildRelay(files.configPath);
    const transport = smtpTransport({ port: relay.ports.submissions, ca: files.certificate.cert }, { pool: true, maxConnections: 4 });
    const acknowledged = new Set<string>();
    const total = 40;
    let killed = false;
    const killAfterDeliveries = remote.waitForMessages(5).then(() => {
      killed = true;
      relay.process.kill('SIGKILL');
    });
    await Promise.all(
      Array.from({ length: total }, (_, index) => {
        const raw = `From: <app@example.test>\r\nTo: <r${index}@elsewhere.test>\r\nSubject: n${index}\r\nMessage-ID: <crash${index}@example.test>\r\n\r\nmessage ${index}\r\n`;
        return transport.sendMail({ envelope: { from: 'app@example.test', to: [`r${index}@elsewhere.test`] }, raw }).then(
          () => acknowledged.add(`crash${index}@example.test`),
          () => undefined, // cut off by the kill: never acknowledged, so not promised
        );
      }),
    );
    transport.close();
    await killAfterDeliveries;
    await relay.exited;
    expect(killed).toBe(true);
    expect(acknowledged.size).toBeGreaterThanOrEqual(5);

    const restarted = await startChildRelay(files.configPath);
    try {
      const seen = () => new Set(remote.messages.map((mail) => messageId(mail.raw)));
      while (![...acknowledged].every((id) => seen().has(id))) await remote.waitForMessages(remote.messages.length + 1);
      for (const id of acknowledged) expect(seen().has(id)).toBe(true);
      // Every copy that arrived was signed, before and after the crash.
      expect(remote.messages.every((mail) => /^DKIM-Signature: /m.test(mail.raw.toString('latin1')))).toBe(true);
    } finally {
      restarted.process.kill('SIGTERM');
      await restarted.exited;
      await remote.close();
      await dns.close();
    }
  });
});
