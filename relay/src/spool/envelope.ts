/** What the spool keeps about a message besides its bytes. One JSON line heads each spool file. */

/**
 * Where a message came from, which is what delivery decides by: `inbound` (received on mx for our
 * domains: forwarded per route, never signed as ours, no DSN to an unauthenticated sender),
 * `submission` (from our users or trusted networks: signed, DSNs to the sender) or `dsn` (made by
 * the relay itself).
 */
export type Origin = 'inbound' | 'submission' | 'dsn';

export interface SpoolEnvelope {
  id: string;
  receivedAt: string;
  /** Envelope sender; '' is the null sender `<>`. */
  mailFrom: string;
  rcptTo: string[];
  origin: Origin;
  /**
   * The listener it arrived on (mx, submission, submissions) or `dsn`: for people (trace, logs,
   * the failed list) and metric labels. No decision reads it; decisions read `origin`.
   */
  listener: string;
  clientAddress: string;
  authUser?: string;
  smtpUtf8: boolean;
  bodyType: '7bit' | '8bitmime';
  /**
   * `mx` only: what inbound authentication found when the message arrived. Kept with the message
   * so that delivery, later and after any restart, can decide whether a failure may be reported
   * to the envelope sender (no backscatter to forged senders) and re-seal ARC with the original
   * results.
   */
  inbound?: InboundRecord;
}

/** The origin of a listener's mail; spool files written before `origin` existed name only the listener. */
export function originOfListener(listener: string): Origin {
  return listener === 'mx' ? 'inbound' : listener === 'dsn' ? 'dsn' : 'submission';
}

/** An envelope line as read from disk, with `origin` filled in for files that predate it. */
export function envelopeFromDisk(parsed: Omit<SpoolEnvelope, 'origin'> & { origin?: Origin }): SpoolEnvelope {
  return parsed.origin === undefined ? { ...parsed, origin: originOfListener(parsed.listener) } : (parsed as SpoolEnvelope);
}

export interface InboundRecord {
  /** SPF result for the envelope sender (RFC 7208 2.6), e.g. pass, fail, softfail, none. */
  spf: string;
  /** The d= of a passing DKIM signature aligned with the envelope sender's domain (relaxed, RFC 7489 3.1.1). */
  alignedDkim?: string;
  /** SPF pass or an aligned DKIM pass: the envelope sender is who it claims, so a DSN to it is no backscatter. */
  senderAuthenticated: boolean;
  /** ARC chain result before our seal (RFC 8617 4.4): none, pass or fail. */
  arc: string;
  /** Our Authentication-Results value (`<authserv-id>; spf=...; dkim=...`), as sealed at intake. */
  authResults: string;
}

export interface SpooledMessage {
  envelope: SpoolEnvelope;
  /** Absolute path of the spool file. */
  path: string;
  /** Byte offset where the message itself starts in the file. */
  bodyOffset: number;
}
