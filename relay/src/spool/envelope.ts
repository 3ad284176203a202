/** What the spool keeps about a message besides its bytes. One JSON line heads each spool file. */
export interface SpoolEnvelope {
  id: string;
  receivedAt: string;
  /** Envelope sender; '' is the null sender `<>`. */
  mailFrom: string;
  rcptTo: string[];
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
