import { X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChildRelay } from '../helpers/child-relay';
import { HOSTNAME, startTestRelay, writeRelayFiles } from '../helpers/relay';
import { run } from '../helpers/run';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { makeCertificate, type TestCertificate } from '../helpers/tls';

async function serverCertificateOverStartTls(port: number, ca: string): Promise<{ serial: string; dialog: SmtpDialog }> {
  const dialog = await SmtpDialog.open(port);
  await dialog.greet();
  const socket = await dialog.startTls(ca, HOSTNAME);
  return { serial: socket.getPeerCertificate().serialNumber, dialog };
}

/** Replaces cert and key the way renewal tools do: write beside, then rename over. */
function installCertificate(dir: string, certificate: TestCertificate): void {
  writeFileSync(join(dir, 'tls.key.new'), certificate.key, { mode: 0o600 });
  writeFileSync(join(dir, 'tls.crt.new'), certificate.cert);
  renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

describe('replacing the certificate files', () => {
  it('gives the next STARTTLS session the new certificate while an open session keeps working', async () => {
    const t = await startTestRelay();
    try {
      const before = await serverCertificateOverStartTls(t.port('mx'), t.certificate.cert);
      expect(before.serial).toBe(serialOf(t.certificate.cert));

      const renewed = await makeCertificate(HOSTNAME);
      installCertificate(t.dir, renewed);
      await t.waitForLog(/TLS certificate reloaded/);

      const after = await serverCertificateOverStartTls(t.port('mx'), renewed.cert);
      expect(after.serial).toBe(serialOf(renewed.cert));
      expect(after.serial).not.toBe(before.serial);
      // The session opened before the swap is still alive and usable.
      expect((await before.dialog.command('NOOP')).code).toBe(250);
      before.dialog.close();
      after.dialog.close();
    } finally {
      await t.stop();
    }
  });

  it('is picked up on SIGHUP, as openssl s_client sees by the serial number', async () => {
    const files = await writeRelayFiles((config) => {
      config.listen = { mx: { host: '127.0.0.1', port: 0 } };
    });
    const relay = await startChildRelay(files.configPath);
    try {
      const renewed = await makeCertificate(HOSTNAME);
      // Written in place (no rename): the watcher may or may not see it; SIGHUP must.
      writeFileSync(join(files.dir, 'tls.key'), renewed.key);
      writeFileSync(join(files.dir, 'tls.crt'), renewed.cert);
      relay.process.kill('SIGHUP');
      await relay.waitFor(/TLS certificate reloaded/);
      writeFileSync(join(files.dir, 'renewed.pem'), renewed.cert);
      const shown = await run(
        'openssl',
        ['s_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${relay.ports.mx}`, '-CAfile', join(files.dir, 'renewed.pem'), '-verify_hostname', HOSTNAME, '-servername', HOSTNAME, '-crlf', '-verify_return_error'],
        'QUIT\n',
      );
      const printed = await run('openssl', ['x509', '-noout', '-serial'], shown.stdout);
      expect(printed.stdout.trim().replace(/^serial=/, '').toUpperCase()).toBe(serialOf(renewed.cert));
    } finally {
      relay.process.kill('SIGTERM');
      await relay.exited;
    }
  });

  it('keeps the old certificate when the new key does not match it', async () => {
    const t = await startTestRelay();
    try {
      const other = await makeCertificate(HOSTNAME);
      writeFileSync(join(t.dir, 'tls.crt'), other.cert); // key left as it was: a mismatched pair
      await t.waitForLog(/TLS reload failed/);
      const session = await serverCertificateOverStartTls(t.port('mx'), t.certificate.cert);
      expect(session.serial).toBe(serialOf(t.certificate.cert));
      session.dialog.close();
    } finally {
      await t.stop();
    }
  });
});
