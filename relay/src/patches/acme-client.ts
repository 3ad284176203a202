/** acme-client: no retries of its own (a settings patch; see index.ts). */
import * as acme from 'acme-client';
import { version as acmeClientVersion } from 'acme-client/package.json';
import { PatchError } from './method-patch';

interface AcmeSettings {
  acmeSettings?: { retryMaxAttempts?: unknown };
}

/**
 * acme-client retries failed requests itself (up to 5 times, 5-25 s apart) before an order
 * fails. Our own jittered schedule owns retries (tls/acme-manager.ts), so a CA that is down fails
 * the attempt at once. acme-client documents this global axios instance and its acmeSettings in
 * its own readme, section "HTTP client defaults".
 */
export function noAcmeClientRetries(): void {
  const settings = (acme.axios.defaults as unknown as AcmeSettings).acmeSettings;
  if (typeof settings?.retryMaxAttempts !== 'number') {
    throw new PatchError(`acme-client ${acmeClientVersion}: axios.defaults.acmeSettings.retryMaxAttempts is not there; this version of acme-client is not supported by the relay`);
  }
  settings.retryMaxAttempts = 0;
}
