/**
 * Keys, certificates and the demo user in the state folder: made on the first run, checked and
 * reused on every later one, so DNS records, trusted CA files and printed passwords stay valid
 * between runs. Anything unreadable is a broken folder (one clear line); a certificate that merely
 * expired or lacks a name that this version needs is made anew.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomInt, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import type { StateFolder } from './state-folder';

const DAY_MS = 86_400_000;
const CERT_LIFETIME_DAYS = 365;

export interface DkimKeyFiles {
  file: string;
  publicKeyPem: string;
}

function generateRsaKey(): Promise<string> {
  return new Promise((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }, (error, _publicKey, privateKey) =>
      error ? reject(error) : resolve(privateKey),
    ),
  );
}

function parseRsaKey(folder: StateFolder, name: string, pem: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw folder.broken(name, 'is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw folder.broken(name, `is a ${key.asymmetricKeyType ?? 'unknown'} key, not RSA`);
  return key;
}

/** An RSA-2048 DKIM key (what the infra's `tls.PrivateKey` makes), PKCS#8 PEM. */
export async function dkimKey(folder: StateFolder, name: string): Promise<DkimKeyFiles> {
  let pem = await folder.readIfExists(name);
  if (pem === undefined) {
    pem = Buffer.from(await generateRsaKey());
    await folder.writeAtomic(name, pem);
  }
  const key = parseRsaKey(folder, name, pem);
  return { file: folder.path(name), publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString() };
}

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** Whether this run made it (a client that pinned the old one must fetch it again). */
  renewed: boolean;
}

/** Self-signed and marked as a CA, so the certificate file itself is what clients trust (--tls-ca-path). */
async function makeCertificate(names: readonly string[]): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: names[0] }], {
    // selfsigned's EC path is broken in the version we use; RSA is what the infra's self-signed mode makes too.
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + CERT_LIFETIME_DAYS * DAY_MS),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

function stillGood(cert: X509Certificate, names: readonly string[]): boolean {
  if (Date.parse(cert.validTo) - Date.now() < DAY_MS) return false;
  return names.every((name) => (isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined));
}

/** `<prefix>.crt` + `<prefix>.key` covering `names` (DNS names and IP addresses; the first is the CN). */
export async function certificate(folder: StateFolder, prefix: string, names: readonly string[]): Promise<CertificateFiles> {
  const certName = `${prefix}.crt`;
  const keyName = `${prefix}.key`;
  const [certPem, keyPem] = await Promise.all([folder.readIfExists(certName), folder.readIfExists(keyName)]);
  if (certPem !== undefined && keyPem !== undefined) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      throw folder.broken(certName, 'is not a PEM certificate');
    }
    if (!cert.checkPrivateKey(parseRsaKey(folder, keyName, keyPem))) throw folder.broken(keyName, `does not belong to ${certName}`);
    if (stillGood(cert, names)) return { certFile: folder.path(certName), keyFile: folder.path(keyName), cert: certPem, key: keyPem, renewed: false };
  } else if (certPem !== undefined || keyPem !== undefined) {
    throw folder.broken(certPem === undefined ? keyName : certName, `is there without ${certPem === undefined ? certName : keyName}`);
  }
  const made = await makeCertificate(names);
  // Key first: a run killed between the two writes leaves a pair that fails the check above, never a silent mismatch.
  await folder.writeAtomic(keyName, made.key);
  await folder.writeAtomic(certName, made.cert, 0o644);
  return { certFile: folder.path(certName), keyFile: folder.path(keyName), cert: Buffer.from(made.cert), key: Buffer.from(made.key), renewed: true };
}

export interface DemoUser {
  username: string;
  address: string;
  password: string;
}

const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** Letters and digits only, so it pastes into shell one-liners without quoting. 20 of 57 symbols: ~116 bits. */
function newPassword(): string {
  return Array.from({ length: 20 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
}

function isDemoUser(value: unknown): value is DemoUser {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['username', 'address', 'password'].every((key) => typeof record[key] === 'string' && record[key] !== '');
}

/** The demo user's password is made once and kept in plain text here: it is printed on every run anyway. */
export async function demoUser(folder: StateFolder, name: string, defaults: Omit<DemoUser, 'password'>): Promise<DemoUser> {
  const text = await folder.readIfExists(name);
  if (text === undefined) {
    const user = { ...defaults, password: newPassword() };
    await folder.writeAtomic(name, `${JSON.stringify(user, null, 2)}\n`);
    return user;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString('utf8'));
  } catch {
    throw folder.broken(name, 'is not JSON');
  }
  if (!isDemoUser(parsed)) throw folder.broken(name, 'lacks username, address or password');
  return { username: parsed.username, address: parsed.address, password: parsed.password };
}
