/**
 * ACME against Debian's pebble on loopback (RFC 8555, HTTP-01): first issuance, renewal at a third
 * of the lifetime left (clock moved forward), hot swap into STARTTLS, reuse after a restart.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CERTIFICATE_FILE, METADATA_FILE } from '../../../relay/src/tls/store';
import { HOSTNAME, type TestRelay } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { createAcmeWorld, httpGet, logLine, metricValue, NAMES, opensslSerial, startAcmeRelay, startTlsCertificate, type AcmeWorld } from './world';

let world: AcmeWorld;
let root: string;
let rootFile: string;

beforeAll(async () => {
  world = await createAcmeWorld({ pebbleRunning: true });
  root = await world.pebble!.rootCertificate();
  rootFile = join(world.dir, 'pebble-root.pem');
  writeFileSync(rootFile, root);
});

afterAll(async () => {
  await world?.stop();
});

const serialOf = (line: Record<string, unknown>) => String(line.serial);

describe('a relay with tls.acme and no stored certificate', () => {
  let relay: TestRelay | undefined;
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it('starts on a temporary self-signed certificate, obtains one from the CA over HTTP-01, stores it, and serves it to new STARTTLS sessions', async () => {
    const stateDir = join(world.dir, 'first-issuance');
    relay = await startAcmeRelay(world, { stateDir });
    const start = await logLine(relay, /a TLS certificate will be ordered now/);
    expect(start.source).toBe('temporary');

    const obtained = await logLine(relay, /TLS certificate obtained/);
    expect(obtained.previousSerial).toBe(start.serial);
    const served = await startTlsCertificate(relay.port('mx'), HOSTNAME, root);
    expect(served.serialNumber).toBe(serialOf(obtained));
    expect(served.subjectaltname).toBe(NAMES.map((name) => `DNS:${name}`).join(', '));
    // Pebble validated both names by asking our DNS and fetching the challenge from listen.acmeHttp.
    expect(world.dns.queries).toEqual(expect.arrayContaining(NAMES));

    expect(statSync(join(stateDir, CERTIFICATE_FILE)).mode & 0o777).toBe(0o600);
    expect(existsSync(join(stateDir, METADATA_FILE))).toBe(true);

    const metrics = await httpGet(relay.port('http'), '/metrics');
    expect(metricValue(metrics.body, 'mxkit_tls_certificate_expiry_seconds', 'source="acme"')).toBeGreaterThan(14 * 86_400);
    expect(metricValue(metrics.body, 'mxkit_tls_certificate_expiry_seconds', 'source="temporary"')).toBeUndefined();
  });
});

describe('a relay with a stored ACME certificate', () => {
  const stateDir = () => join(world.dir, 'stored');

  it('reuses the stored certificate after a restart without placing a new order', async () => {
    const first = await startAcmeRelay(world, { stateDir: stateDir() });
    const obtained = await logLine(first, /TLS certificate obtained/);
    await first.stop();
    const ordersBefore = world.pebble!.orders();

    const second = await startAcmeRelay(world, { stateDir: stateDir() });
    try {
      const start = await logLine(second, /using the stored ACME certificate/);
      expect(start.serial).toBe(obtained.serial);
      // The decision is made at start: an order would have been logged by now.
      expect(second.logs.some((line) => /ordering a TLS certificate/.test(line))).toBe(false);
      expect((await startTlsCertificate(second.port('mx'), HOSTNAME, root)).serialNumber).toBe(serialOf(obtained));
      expect(world.pebble!.orders()).toBe(ordersBefore);
    } finally {
      await second.stop();
    }
  });

  it('renews when a third of the lifetime is left; the next STARTTLS session gets the new certificate while an open one keeps going', async () => {
    let offset = 0;
    const relay = await startAcmeRelay(world, { stateDir: stateDir(), tls: { now: () => Date.now() + offset } });
    try {
      const start = await logLine(relay, /using the stored ACME certificate/);
      const open = await SmtpDialog.open(relay.port('mx'));
      await open.greet();
      expect((await open.startTls(root, HOSTNAME)).getPeerCertificate().serialNumber).toBe(serialOf(start));

      // Move the clock to just past the renewal time (notAfter minus a third of the lifetime).
      const certificate = await startTlsCertificate(relay.port('mx'), HOSTNAME, root);
      const notBefore = Date.parse(certificate.valid_from);
      const notAfter = Date.parse(certificate.valid_to);
      offset = notAfter - (notAfter - notBefore) / 3 - Date.now() + 60_000;

      const renewed = await logLine(relay, /TLS certificate renewed/);
      // Back to real time: the new certificate's lifetime runs on the CA's (real) clock.
      offset = 0;
      expect(renewed.previousSerial).toBe(start.serial);
      expect(renewed.serial).not.toBe(start.serial);
      // A new session, as openssl s_client sees it, verified against the CA for the hostname.
      expect(await opensslSerial(relay.port('mx'), rootFile, HOSTNAME)).toBe(serialOf(renewed));
      // The session opened before the swap was not dropped.
      expect((await open.command('NOOP')).code).toBe(250);
      open.close();
    } finally {
      await relay.stop();
    }
  });
});
