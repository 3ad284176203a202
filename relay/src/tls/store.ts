/**
 * The ACME certificate on disk, in `tls.acme.stateDir` (on the spool volume in production, so it
 * survives restarts and instance replacement and is never re-ordered needlessly: CAs rate-limit
 * orders, RFC 8555 §6.6). Two files:
 *   certificate.pem   the private key followed by the chain (leaf first), mode 0600, replaced by
 *                     one atomic rename so key and chain can never disagree;
 *   certificate.json  which ACME directory issued it, for which names, and its serial.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { TlsMaterial } from './material';
import { describeCertificate, missingNames, type CertificateInfo } from './certificate';
import { checkKeyFits } from './server-context';

export const CERTIFICATE_FILE = 'certificate.pem';
export const METADATA_FILE = 'certificate.json';

export interface StoredMetadata {
  directoryUrl: string;
  names: string[];
  serial: string;
  obtainedAt: string;
}

export type StoredCertificate =
  | { kind: 'none' }
  | { kind: 'unusable'; reason: string }
  /** `current` false: usable now but issued for other names or by another directory: order anew. */
  | { kind: 'found'; material: TlsMaterial; info: CertificateInfo; current: boolean; reason?: string };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----\r?\n?/g;

/** Splits key + chain text into the key and the certificates. */
function splitPem(text: string): TlsMaterial | undefined {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  const key = blocks.filter((block) => block[1].endsWith('PRIVATE KEY')).map((block) => block[0]);
  const certs = blocks.filter((block) => block[1] === 'CERTIFICATE').map((block) => block[0].trimEnd() + '\n');
  if (key.length !== 1 || certs.length === 0) return undefined;
  return { key: Buffer.from(key[0]), cert: Buffer.from(certs.join('')) };
}

export async function readStoredCertificate(stateDir: string, expected: { directoryUrl: string; names: readonly string[] }): Promise<StoredCertificate> {
  let text: string;
  try {
    text = await readFile(join(stateDir, CERTIFICATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unusable', reason: `cannot read ${CERTIFICATE_FILE}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  const material = splitPem(text);
  if (!material) return { kind: 'unusable', reason: `${CERTIFICATE_FILE} does not hold one private key and a certificate chain` };
  let info: CertificateInfo;
  try {
    checkKeyFits(material);
    info = describeCertificate(material);
  } catch (error) {
    return { kind: 'unusable', reason: `${CERTIFICATE_FILE}: ${(error as Error).message}` };
  }
  const missing = missingNames(info, expected.names);
  if (missing.length > 0) return { kind: 'found', material, info, current: false, reason: `it does not cover ${missing.join(', ')}` };
  const metadata = await readMetadata(stateDir);
  // Metadata of another serial is from an interrupted write: the certificate itself decides.
  if (metadata?.serial === info.serial && metadata.directoryUrl !== expected.directoryUrl) {
    return { kind: 'found', material, info, current: false, reason: `it was issued by ${metadata.directoryUrl}` };
  }
  return { kind: 'found', material, info, current: true };
}

async function readMetadata(stateDir: string): Promise<StoredMetadata | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, METADATA_FILE), 'utf8')) as Partial<StoredMetadata>;
    return typeof parsed.directoryUrl === 'string' && typeof parsed.serial === 'string' ? (parsed as StoredMetadata) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes beside, fsyncs, renames over, fsyncs the folder: a crash leaves the old file or the new one. */
async function writeDurably(stateDir: string, name: string, data: string, mode: number): Promise<void> {
  const temporary = join(stateDir, `.${name}.${process.pid}.tmp`);
  const handle = await open(temporary, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(stateDir, name));
  const folder = await open(stateDir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

export async function writeStoredCertificate(stateDir: string, material: TlsMaterial, metadata: StoredMetadata): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeDurably(stateDir, METADATA_FILE, `${JSON.stringify(metadata, null, 2)}\n`, 0o644);
  await writeDurably(stateDir, CERTIFICATE_FILE, `${material.key.toString('utf8').trimEnd()}\n${material.cert.toString('utf8')}`, 0o600);
}
