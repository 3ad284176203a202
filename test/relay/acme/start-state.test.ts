/**
 * What a relay with tls.acme starts with, decided by the config loader before any CA is contacted:
 * the stored certificate when usable, else a temporary self-signed one; fail closed on a missing
 * account key.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRelay } from '../../../relay/src/load-relay';
import type { RelayConfigInput } from '../../../relay/src/config/schema';
import { CERTIFICATE_FILE, writeStoredCertificate } from '../../../relay/src/tls/store';
import { HOSTNAME, writeRelayFiles } from '../../helpers/relay';
import { makeCertificate } from '../../helpers/tls';
import { NAMES } from './world';

const DIRECTORY = 'https://127.0.0.1:14000/dir';

/** Config files for an ACME relay (nothing listens: only loadRelay runs). */
async function acmeFiles(edit: (acme: NonNullable<NonNullable<RelayConfigInput['tls']>['acme']>, dir: string) => void = () => undefined) {
  return writeRelayFiles((config, dir) => {
    const accountKeyFile = join(dir, 'account.key');
    writeFileSync(accountKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const acme = { directoryUrl: DIRECTORY, accountKeyFile, email: 'postmaster@example.test', names: NAMES, stateDir: join(dir, 'acme') };
    edit(acme, dir);
    config.tls = { acme };
    config.listen.acmeHttp = { host: '127.0.0.1', port: 0 };
  });
}

describe('loading a relay config with tls.acme', () => {
  it('refuses to start when the account key cannot be read, naming tls.acme.accountKeyFile', async () => {
    const files = await acmeFiles((acme, dir) => (acme.accountKeyFile = join(dir, 'missing.key')));
    await expect(loadRelay(files.configPath)).rejects.toThrow(/^tls\.acme\.accountKeyFile: cannot read .*missing\.key: ENOENT$/);
  });

  it('starts on a temporary self-signed certificate for the hostname and names when none is stored', async () => {
    const loaded = await loadRelay((await acmeFiles()).configPath);
    expect(loaded.acme).toMatchObject({ source: 'temporary', current: false, note: undefined });
    const certificate = new X509Certificate(loaded.tls!.cert);
    expect(certificate.subjectAltName).toBe(NAMES.map((name) => `DNS:${name}`).join(', '));
    // Self-signed: its own key signed it.
    expect(certificate.issuer).toBe(certificate.subject);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
  });

  it('falls back to a temporary certificate, and says why, when the stored one is damaged', async () => {
    const files = await acmeFiles();
    await writeStoredCertificate(join(files.dir, 'acme'), { key: Buffer.from('not a key'), cert: Buffer.from('') }, { directoryUrl: DIRECTORY, names: NAMES, serial: '01', obtainedAt: new Date().toISOString() });
    const loaded = await loadRelay(files.configPath);
    expect(loaded.acme).toMatchObject({ source: 'temporary', note: `${CERTIFICATE_FILE} does not hold one private key and a certificate chain` });
  });

  it('serves a stored certificate that lacks a configured name, but marks it due for a new order', async () => {
    const files = await acmeFiles();
    const onlyHostname = await makeCertificate(HOSTNAME);
    const material = { key: Buffer.from(onlyHostname.key), cert: Buffer.from(onlyHostname.cert) };
    await writeStoredCertificate(join(files.dir, 'acme'), material, { directoryUrl: DIRECTORY, names: [HOSTNAME], serial: new X509Certificate(onlyHostname.cert).serialNumber, obtainedAt: new Date().toISOString() });
    const loaded = await loadRelay(files.configPath);
    expect(loaded.acme).toMatchObject({ source: 'acme', current: false, note: 'it does not cover mta-sts.example.test' });
    expect(loaded.tls?.cert.toString()).toBe(onlyHostname.cert.trimEnd() + '\n');
  });

  it('marks a stored certificate from another ACME directory as due for a new order', async () => {
    const files = await acmeFiles((acme) => (acme.names = [HOSTNAME]));
    const certificate = await makeCertificate(HOSTNAME);
    const serial = new X509Certificate(certificate.cert).serialNumber;
    await writeStoredCertificate(join(files.dir, 'acme'), { key: Buffer.from(certificate.key), cert: Buffer.from(certificate.cert) }, { directoryUrl: 'https://staging.example/dir', names: [HOSTNAME], serial, obtainedAt: new Date().toISOString() });
    const loaded = await loadRelay(files.configPath);
    expect(loaded.acme).toMatchObject({ source: 'acme', current: false, note: 'it was issued by https://staging.example/dir' });
  });
});

describe('a tls.acme config without listen.acmeHttp', () => {
  it('is refused, naming listen.acmeHttp, since nothing could answer the HTTP-01 challenges', async () => {
    const files = await writeRelayFiles((config, dir) => {
      config.tls = { acme: { directoryUrl: DIRECTORY, accountKeyFile: join(dir, 'account.key'), email: 'postmaster@example.test', names: NAMES, stateDir: join(dir, 'acme') } };
    });
    await expect(loadRelay(files.configPath)).rejects.toThrow(/^listen\.acmeHttp: is required with tls\.acme/);
  });
});
