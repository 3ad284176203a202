/**
 * What the relay needs to know about a certificate it serves (validity, names, serial), and the
 * temporary self-signed stand-in used until the ACME CA (RFC 8555) has issued a real one.
 */
import { X509Certificate } from 'node:crypto';
import type { TlsMaterial } from './material';

/** Where the certificate in use came from. */
export type CertificateSource = 'acme' | 'file' | 'temporary';

export interface CertificateInfo {
  serial: string;
  notBefore: number;
  notAfter: number;
  /** DNS names of the subjectAltName extension, lower-case. */
  names: string[];
  issuer: string;
}

export function describeCertificate(material: TlsMaterial): CertificateInfo {
  // X509Certificate reads the first PEM block: the leaf, which comes first in a chain.
  const leaf = new X509Certificate(material.cert);
  const names = (leaf.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  return { serial: leaf.serialNumber, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), names, issuer: leaf.issuer };
}

/** Names that `names` asks for but the certificate does not cover (exact match; no wildcards). */
export function missingNames(info: CertificateInfo, names: readonly string[]): string[] {
  return names.map((name) => name.toLowerCase()).filter((name) => !info.names.includes(name));
}

/** When to renew: when a third of the lifetime is left (so a 90-day certificate at day 60). */
export function renewalTime(info: CertificateInfo): number {
  return info.notAfter - (info.notAfter - info.notBefore) / 3;
}

const TEMPORARY_LIFETIME_MS = 90 * 86_400_000;

/**
 * A self-signed certificate for the names, served by STARTTLS and the HTTPS listener until the CA
 * has issued one. Opportunistic STARTTLS (RFC 3207) works with it; MTA-STS senders (RFC 8461 §4.2)
 * and certificate-checking clients do not accept it, which is the point of obtaining a real one.
 */
export async function temporaryCertificate(hostname: string, names: readonly string[]): Promise<TlsMaterial> {
  const altNames = [...new Set([hostname, ...names])].map((value) => ({ type: 2 as const, value }));
  // Loaded on first use (a relay with a certificate file never needs it): less to run at start.
  const { generate } = await import('selfsigned');
  // selfsigned's EC path is broken in 5.5.0: RSA it is.
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + TEMPORARY_LIFETIME_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: Buffer.from(pems.private), cert: Buffer.from(pems.cert) };
}
