/** Which certificates the checks trust: the public roots, plus `--ca` for self-signed test and local certificates. */
import { rootCertificates } from 'node:tls';

export function trustedCas(extraCa: string | undefined): string[] | undefined {
  // Undefined keeps node's default store; a list replaces it, so the public roots are included.
  return extraCa === undefined ? undefined : [...rootCertificates, extraCa];
}
