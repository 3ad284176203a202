/**
 * What every TLS context the relay serves with has in common (the SMTP listeners, the HTTPS
 * listener, the check that a certificate and key belong together): no list of CAs to verify
 * clients with. Without `ca`, Node gives every context its ~140 public root certificates, parsed
 * the first time a process makes one: ~25 ms of every start on the bench's machine
 * (docs/benchmarks.md, issue 17 round 8), for a list a server uses only to verify client
 * certificates, which none of our listeners asks for. The chain served is the certificate file's
 * either way. Outbound TLS (delivery, MTA-STS, ACME, OAuth keys) keeps Node's roots: it does not
 * use these options.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

export const WITHOUT_CLIENT_CAS: { readonly ca: string[] } = { ca: [] };

/** Throws unless key and certificate load together into a TLS context the relay could serve with. */
export function checkKeyFits(material: { key: Buffer; cert: Buffer }): void {
  createSecureContext({ key: material.key, cert: material.cert, ...WITHOUT_CLIENT_CAS });
  if (!new X509Certificate(material.cert).checkPrivateKey(createPrivateKey(material.key))) {
    throw new Error("the key is not the certificate's");
  }
}
