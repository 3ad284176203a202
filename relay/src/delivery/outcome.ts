/**
 * What an attempt's result means, kept as data: which failures are retried on
 * `delivery.retrySchedule` and which bounce at once, with the RFC 3463 status a DSN reports and
 * the metric label. RFC 5321 4.2.1: 4yz replies are transient, 5yz permanent; a host that cannot be
 * reached is a transient failure (RFC 5321 4.5.4.1 keeps retrying).
 */
export type Verdict = 'delivered' | 'deferred' | 'bounced';

export interface Outcome {
  verdict: Verdict;
  /** Metric label and log field. */
  reason: string;
  /** RFC 3463 enhanced status for the DSN and `queue list`. */
  status: string;
  /** Human-readable detail: the remote reply or the local failure. */
  detail: string;
  remoteMta?: string;
  /** The address the answering host was reached at (for `mxkit trace`). */
  remoteAddress?: string;
  /** The session was encrypted (delivered outcomes). */
  tls?: boolean;
  /** Deferred by our own throttle: the turn reserved for this message (ms since the epoch). */
  retryAt?: number;
}

export type LocalFailure =
  | 'null_mx'
  | 'no_such_domain'
  | 'no_mail_host'
  | 'dns'
  | 'mta_sts'
  | 'tls'
  | 'connection'
  | 'dkim'
  | 'no_route'
  | 'expired'
  | 'throttled'
  | 'local_error';

/** Failures found before or outside an SMTP reply. */
export const LOCAL_FAILURES: Record<LocalFailure, { verdict: Exclude<Verdict, 'delivered'>; status: string }> = {
  null_mx: { verdict: 'bounced', status: '5.1.10' }, // RFC 7505 3: the domain accepts no mail
  no_such_domain: { verdict: 'bounced', status: '5.1.2' }, // NXDOMAIN
  no_mail_host: { verdict: 'bounced', status: '5.1.2' }, // no MX and no A/AAAA (RFC 5321 5.1)
  dns: { verdict: 'deferred', status: '4.4.3' }, // SERVFAIL, timeout: directory server failure
  mta_sts: { verdict: 'deferred', status: '4.7.5' }, // RFC 8461 5: no MX matches the policy
  tls: { verdict: 'deferred', status: '4.7.5' }, // handshake or certificate failed where TLS is required
  connection: { verdict: 'deferred', status: '4.4.1' }, // no answer from host
  dkim: { verdict: 'deferred', status: '4.3.0' }, // never send unsigned: wait for a working key
  no_route: { verdict: 'bounced', status: '5.1.1' }, // a routed address lost its route
  expired: { verdict: 'bounced', status: '4.4.7' }, // RFC 3463: delivery time expired
  throttled: { verdict: 'deferred', status: '4.4.5' }, // RFC 3463 X.4.5: congestion (our own pacing, delivery/throttle.ts)
  local_error: { verdict: 'deferred', status: '4.3.0' },
};

export function localOutcome(failure: LocalFailure, detail: string, remoteMta?: string): Outcome {
  const { verdict, status } = LOCAL_FAILURES[failure];
  return { verdict, reason: failure, status, detail, ...(remoteMta ? { remoteMta } : {}) };
}

/** An SMTP reply to MAIL, RCPT or DATA. 503 (bad sequence) is a session problem, not a refusal. */
export function replyOutcome(code: number, response: string, remoteMta: string, remoteAddress?: string): Outcome {
  const enhanced = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1];
  const permanent = code >= 500 && code !== 503;
  const status = enhanced ?? (permanent ? '5.0.0' : '4.0.0');
  return {
    verdict: permanent ? 'bounced' : 'deferred',
    reason: permanent ? 'remote_5xx' : 'remote_4xx',
    status: permanent && status.startsWith('4') ? `5${status.slice(1)}` : status,
    detail: response.trim(),
    remoteMta,
    ...(remoteAddress ? { remoteAddress } : {}),
  };
}

export function deliveredOutcome(response: string, remoteMta: string, tls: boolean, remoteAddress?: string): Outcome {
  return { verdict: 'delivered', reason: 'delivered', status: '2.0.0', detail: response.trim(), remoteMta, tls, ...(remoteAddress ? { remoteAddress } : {}) };
}
