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
