import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface TestCertificate {
  cert: string;
  key: string;
}

/** A fresh self-signed certificate for `hostname` (also its own CA, so clients can pin it). */
export async function makeCertificate(hostname: string, commonNameSuffix = ''): Promise<TestCertificate> {
  const pems = await generate([{ name: 'commonName', value: `${hostname}${commonNameSuffix}` }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 7 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface CaSignedCertificate extends TestCertificate {
  /** The test CA that signed `cert` (what a client trusts). */
  ca: string;
}

/**
 * A certificate for `hostname` signed by a fresh test CA, with everything a scanner checks for a
 * valid server certificate (serverAuth, key usage, a CRL distribution point, 200 days). Made with
 * the openssl command line.
 */
export function makeCaSignedCertificate(hostname: string): CaSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'mxkit-ca-'));
  try {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '365', '-subj', '/CN=mxkit Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${hostname}`);
    writeFileSync(
      join(dir, 'leaf.ext'),
      [`subjectAltName=DNS:${hostname}`, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', 'crlDistributionPoints=URI:http://ca.example.test/mxkit-test.crl', ''].join('\n'),
    );
    openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '200', '-extfile', 'leaf.ext');
    return { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'leaf.pem'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
