/**
 * What an ACME relay starts with (read once by the config loader): the account key, and the
 * certificate to serve until the CA has issued one — the stored one from `stateDir` if usable,
 * else the `tls.certFile` pair if configured, else a temporary self-signed certificate.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { readNamedFile } from '../config/named-file';
import { ConfigError, type RelayConfig } from '../config/schema';
import { temporaryCertificate, type CertificateSource } from './certificate';
import type { TlsMaterial } from './material';
import { readStoredCertificate } from './store';

export type AcmeConfig = NonNullable<NonNullable<RelayConfig['tls']>['acme']>;

export interface AcmeStart {
  accountKey: Buffer;
  /** Extra CA certificates (PEM) trusted for the directory's HTTPS (tls.acme.caFile). */
  directoryCa: Buffer | undefined;
  material: TlsMaterial;
  source: CertificateSource;
  /** Whether the stored certificate is for these names and this directory (else: order at once). */
  current: boolean;
  /** Why the stored certificate is not used or not current, for the start-up log. */
  note: string | undefined;
}

export async function loadAcmeStart(config: RelayConfig, acme: AcmeConfig, files: TlsMaterial | undefined): Promise<AcmeStart> {
  // RFC 8555 §6.2: every request is signed with the account key; Pulumi provisions it.
  const accountKey = await readNamedFile('tls.acme.accountKeyFile', acme.accountKeyFile);
  try {
    createPrivateKey(accountKey);
  } catch (error) {
    throw new ConfigError(`tls.acme.accountKeyFile: ${acme.accountKeyFile} is not a private key: ${(error as Error).message}`);
  }
  const directoryCa = acme.caFile ? await readNamedFile('tls.acme.caFile', acme.caFile) : undefined;
  try {
    await mkdir(acme.stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new ConfigError(`tls.acme.stateDir: cannot create ${acme.stateDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const stored = await readStoredCertificate(acme.stateDir, { directoryUrl: acme.directoryUrl, names: acme.names });
  if (stored.kind === 'found') {
    return { accountKey, directoryCa, material: stored.material, source: 'acme', current: stored.current, note: stored.reason };
  }
  const note = stored.kind === 'unusable' ? stored.reason : undefined;
  if (files) return { accountKey, directoryCa, material: files, source: 'file', current: false, note };
  return { accountKey, directoryCa, material: await temporaryCertificate(config.hostname, acme.names), source: 'temporary', current: false, note };
}
