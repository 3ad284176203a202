/**
 * The CA unreachable (pebble not running): the relay keeps serving with what it has, retries on its
 * jittered schedule, and nothing crashes (in-process and as the bundle production runs); when the
 * CA comes back the certificate arrives.
 */
import { join } from 'node:path';
import { startChildRelay } from '../../helpers/child-relay';
import { HOSTNAME, writeRelayFiles } from '../../helpers/relay';
import { SmtpDialog } from '../../helpers/smtp-dialog';
import { createAcmeWorld, httpGet, logLine, metricValue, startAcmeRelay, startTlsCertificate, useAcme, type AcmeWorld } from './world';

const EXPIRY = 'mxkit_tls_certificate_expiry_seconds';
const DAY = 86_400;

let world: AcmeWorld;
let root = '';

beforeAll(async () => {
  world = await createAcmeWorld({ pebbleRunning: false });
});

afterAll(async () => {
  await world?.stop();
});

describe('a relay whose ACME CA is down', () => {
  it('serves STARTTLS on the temporary certificate and reports ready while retrying, then takes the certificate once the CA is back', async () => {
    const relay = await startAcmeRelay(world, { acme: { retryMin: '50ms', retryMax: '200ms' } });
    try {
      const start = await logLine(relay, /a TLS certificate will be ordered now/);
      const failure = await logLine(relay, /"failures":2,.*order failed; keeping the current certificate and retrying/);
      expect(failure).toMatchObject({ keeping: 'temporary', serial: start.serial });
      expect(failure.reason).toMatch(/^ACME directory https:\/\/127\.0\.0\.1:\d+\/dir unreachable: ECONNREFUSED$/);

      const session = await SmtpDialog.open(relay.port('mx'));
      expect((await session.greet()).code).toBe(250);
      expect((await startTlsCertificate(relay.port('mx'), HOSTNAME)).serialNumber).toBe(start.serial);
      expect(await httpGet(relay.port('http'), '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
      const before = await httpGet(relay.port('http'), '/metrics');
      expect(metricValue(before.body, EXPIRY, 'source="temporary"')).toBeGreaterThan(0);

      const pebble = await world.startPebble();
      root = await pebble.rootCertificate();
      const obtained = await logLine(relay, /TLS certificate obtained/);
      expect((await startTlsCertificate(relay.port('mx'), HOSTNAME, root)).serialNumber).toBe(obtained.serial);
      // The session opened on the temporary certificate's watch is still served.
      expect((await session.command('NOOP')).code).toBe(250);
      session.close();
      const after = await httpGet(relay.port('http'), '/metrics');
      expect(metricValue(after.body, EXPIRY, 'source="acme"')).toBeGreaterThan(14 * DAY);
      expect(metricValue(after.body, EXPIRY, 'source="temporary"')).toBeUndefined();
    } finally {
      await relay.stop();
    }
  });

  it('keeps its stored certificate, warns from 14 days before expiry, and keeps retrying when renewal fails', async () => {
    await world.pebble?.stop();
    let offset = 0;
    const relay = await startAcmeRelay(world, { acme: { retryMin: '50ms', retryMax: '200ms' }, tls: { now: () => Date.now() + offset } });
    try {
      const start = await logLine(relay, /using the stored ACME certificate/);
      offset = Date.parse(String(start.notAfter)) - 10 * DAY * 1000 - Date.now();

      const warning = await logLine(relay, /TLS certificate expires within 14 days/);
      expect(warning).toMatchObject({ level: 40, serial: start.serial, source: 'acme', daysLeft: 9 });
      await relay.waitForLog(/"failures":2,.*order failed; keeping the current certificate and retrying/);

      expect((await startTlsCertificate(relay.port('mx'), HOSTNAME, root)).serialNumber).toBe(start.serial);
      expect((await httpGet(relay.port('http'), '/readyz')).status).toBe(200);
      const metrics = await httpGet(relay.port('http'), '/metrics');
      const left = metricValue(metrics.body, EXPIRY, 'source="acme"') ?? 0;
      expect(left).toBeGreaterThan(9 * DAY);
      expect(left).toBeLessThanOrEqual(10 * DAY);
    } finally {
      await relay.stop();
    }
  });
});

describe('the bundled relay (dist/mxkit.js) whose ACME CA is down at start', () => {
  it('stays up answering SMTP while its orders fail, gets the certificate when the CA comes back, and exits cleanly on SIGTERM', async () => {
    await world.pebble?.stop();
    const files = await writeRelayFiles(useAcme(world, { stateDir: join(world.dir, 'bundle-state'), acme: { retryMin: '50ms', retryMax: '200ms' } }));
    const relay = await startChildRelay(files.configPath);
    try {
      await relay.waitFor(/"failures":2,.*order failed; keeping the current certificate and retrying/);
      const session = await SmtpDialog.open(relay.ports.mx);
      expect((await session.greet()).code).toBe(250);

      const pebble = await world.startPebble();
      await relay.waitFor(/TLS certificate obtained/);
      const obtained = JSON.parse(relay.output().split('\n').find((line) => line.includes('TLS certificate obtained')) ?? '{}') as { serial?: string };
      expect((await startTlsCertificate(relay.ports.mx, HOSTNAME, await pebble.rootCertificate())).serialNumber).toBe(obtained.serial);
      expect((await session.command('NOOP')).code).toBe(250);
      session.close();
    } finally {
      relay.process.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
  });
});
