/**
 * Every run-time patch of another module (relay/src/patches) is checked before it is installed,
 * and each one's behaviour is pinned here: the greeting delay (submission greets at once, mx
 * still refuses an early talker, upstream's maxClients kept), the enhanced status codes, the
 * parsed DKIM keys, acme-client without retries of its own. The smtp-server patches issue 13
 * brought are pinned with the behaviour they serve: the envelope address as sent
 * (test/relay/delivery/address-model.test.ts), MAIL FROM parameters
 * (test/relay/tls-and-parameters.test.ts), the session lifecycle's deadlines and slots
 * (test/relay/lock-out.test.ts, test/relay/admission-and-auth-guard.test.ts); the SASL table's
 * XOAUTH2 and OAUTHBEARER by test/relay/oauth/oauth-submission.test.ts.
 */
import crypto, { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as acme from 'acme-client';
import { SMTPServer } from 'smtp-server';
import { installPatches, METHOD_PATCHES, patchProblem, rememberPrivateKey } from '../../relay/src/patches';
import { AcmeManager, type AcmeManagerDeps } from '../../relay/src/tls/acme-manager';
import { SmtpDialog } from '../helpers/smtp-dialog';
import { startTestRelay, type TestRelay } from '../helpers/relay';

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(() => relay.stop());

/** Milliseconds from connect to the 220 greeting. */
async function greetingDelay(port: number): Promise<number> {
  const dialog = await SmtpDialog.open(port);
  const started = performance.now();
  try {
    const greeting = await dialog.read();
    expect(greeting.code).toBe(220);
    return performance.now() - started;
  } finally {
    dialog.close();
  }
}

describe('the patches of other modules', () => {
  test('each finds the method it replaces, with the parameters it was written for', () => {
    expect(METHOD_PATCHES.map((patch) => [patch.name, patchProblem(patch)])).toEqual(METHOD_PATCHES.map((patch) => [patch.name, undefined]));
  });

  test('a patched method that moved is refused with the module and its version named', () => {
    const [init] = METHOD_PATCHES;
    expect(patchProblem(init, {})).toMatch(/^smtp-server \d+\.\d+\.\d+: SMTPConnection\.prototype\.init is not there$/);
    expect(patchProblem(init, { init: (_options: unknown) => undefined })).toMatch(/^smtp-server \d+\.\d+\.\d+: SMTPConnection\.prototype\.init takes 1 parameters, the patch was written for 0$/);
  });

  test('an added method that upstream now has is refused, naming it', () => {
    const added = METHOD_PATCHES.find((patch) => patch.adds);
    expect(added?.name).toBe('SASL.SASL_OAUTHBEARER');
    expect(patchProblem(added as (typeof METHOD_PATCHES)[number], { SASL_OAUTHBEARER: (_args: unknown, _callback: unknown) => undefined })).toMatch(
      /^smtp-server \d+\.\d+\.\d+: SASL\.SASL_OAUTHBEARER is already there, the patch was written to add it$/,
    );
  });

  test('installing again wraps nothing twice', () => {
    installPatches();
    const installed = METHOD_PATCHES.map((patch) => patch.owner()[patch.method]);
    installPatches();
    expect(METHOD_PATCHES.map((patch) => patch.owner()[patch.method])).toEqual(installed);
  });
});

describe('greeting delay (smtp-server init)', () => {
  test('the submission listeners greet without the 100 ms early-talker pause', async () => {
    // The best of five: load can only add time, and with the pause every sample is >= 100 ms.
    const samples = [];
    for (let index = 0; index < 5; index++) samples.push(await greetingDelay(relay.port('submission')));
    expect(Math.min(...samples)).toBeLessThan(100);
  });

  test('mx keeps it: a client that talks before the greeting is refused', async () => {
    const dialog = await SmtpDialog.open(relay.port('mx'));
    try {
      dialog.write('EHLO early.test\r\n');
      const first = await dialog.read();
      // smtp-server answers the early command once the greeting is out: 220, then 421.
      const refusal = first.code === 220 ? await dialog.read() : first;
      expect(refusal.code).toBe(421);
      expect(refusal.text).toMatch(/You talk too soon/);
    } finally {
      dialog.close();
    }
  });

  test("upstream's maxClients check is kept on a listener with the option", async () => {
    installPatches();
    const server = new SMTPServer({ maxClients: 1, greetingDelayMs: 0, disabledCommands: ['AUTH', 'STARTTLS'], logger: false } as ConstructorParameters<typeof SMTPServer>[0]);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.server.address() as AddressInfo;
    const first = await SmtpDialog.open(port);
    const second = await SmtpDialog.open(port);
    try {
      expect((await first.read()).code).toBe(220);
      const refused = await second.read();
      expect(refused.code).toBe(421);
      expect(refused.text).toMatch(/Too many connected clients/);
    } finally {
      first.close();
      second.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('enhanced status codes (smtp-server send)', () => {
  test('a refusal carries our enhanced code once, not smtp-server guess in front of it', async () => {
    const dialog = await SmtpDialog.open(relay.port('mx'));
    try {
      await dialog.greet();
      await dialog.command('MAIL FROM:<someone@elsewhere.test>');
      const refused = await dialog.command('RCPT TO:<someone@not-ours.test>');
      expect(refused.lines).toEqual(['554 5.7.1 Relaying denied']);
    } finally {
      dialog.close();
    }
  });
});

describe('parsed DKIM keys (crypto.createPrivateKey)', () => {
  test('a remembered key is answered from the cache; any other key is parsed by Node', () => {
    installPatches();
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = rememberPrivateKey(privateKey);
    expect(crypto.createPrivateKey(pem)).toBe(privateKey);
    const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(crypto.createPrivateKey(other)).not.toBe(privateKey);
    expect(crypto.createPrivateKey(other).asymmetricKeyType).toBe('ed25519');
  });
});

describe('acme-client request retries', () => {
  const settings = () => (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;

  test('are off once the relay makes its ACME manager: the relay schedules its own retries', async () => {
    settings().retryMaxAttempts = 5;
    installPatches();
    // installPatches leaves acme-client alone: a relay without tls.acme never loads it.
    expect(settings().retryMaxAttempts).toBe(5);
    const accountKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const deps = { acme: { directoryUrl: 'https://127.0.0.1:9/dir' }, accountKey: Buffer.from(accountKey), directoryCa: undefined, startsCurrent: false, options: {} };
    const manager = new AcmeManager(deps as unknown as AcmeManagerDeps);
    try {
      expect(settings().retryMaxAttempts).toBe(0);
    } finally {
      await manager.stop();
    }
  });
});
