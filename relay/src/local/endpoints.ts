/**
 * `DIR/endpoints.json`, a contract (docs/contracts.md "The command line", the `mxkit local` paragraph): written
 * once everything listens, removed when `mxkit local` stops, so whoever waits for the file knows
 * the system is up and never reads the ports of a run that is gone. After the contract's keys come
 * extras (the contract allows extra keys): `submissions` and `mtaSts`, the ports a full
 * `mxkit check` of the local stack needs besides mx and submission, and `rspamd` when it runs.
 */
import type { StateFolder } from './state-folder';

export const ENDPOINTS_FILE = 'endpoints.json';

export interface HostPort {
  host: string;
  port: number;
}

export interface Endpoints {
  submission: HostPort;
  mx: HostPort;
  inbox: { url: string };
  dns: HostPort;
  user: { username: string; password: string; address: string };
  /** Extra: submission with implicit TLS (RFC 8314). */
  submissions: HostPort;
  /** Extra: the relay's HTTPS listener serving https://mta-sts.<domain>/.well-known/mta-sts.txt. */
  mtaSts: HostPort;
  /** Extra, only when Debian's rspamd runs: its scan worker (the relay's spam.rspamd.url). */
  rspamd?: { url: string };
}

export async function writeEndpoints(folder: StateFolder, endpoints: Endpoints): Promise<void> {
  // Exactly the contract's keys, in its order, then the extras, whatever else the caller's objects carry.
  const document: Endpoints = {
    submission: { host: endpoints.submission.host, port: endpoints.submission.port },
    mx: { host: endpoints.mx.host, port: endpoints.mx.port },
    inbox: { url: endpoints.inbox.url },
    dns: { host: endpoints.dns.host, port: endpoints.dns.port },
    user: { username: endpoints.user.username, password: endpoints.user.password, address: endpoints.user.address },
    submissions: { host: endpoints.submissions.host, port: endpoints.submissions.port },
    mtaSts: { host: endpoints.mtaSts.host, port: endpoints.mtaSts.port },
    ...(endpoints.rspamd ? { rspamd: { url: endpoints.rspamd.url } } : {}),
  };
  await folder.writeAtomic(ENDPOINTS_FILE, `${JSON.stringify(document, null, 2)}\n`);
}

export function removeEndpoints(folder: StateFolder): Promise<void> {
  return folder.remove(ENDPOINTS_FILE);
}
