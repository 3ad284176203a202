/**
 * The one way the relay refuses or defers something: an SMTP reply code plus an RFC 3463 enhanced
 * status code. smtp-server would otherwise guess the enhanced code from the reply code alone
 * (550 -> 5.1.1 even for a policy refusal), so replies built here carry their own, and a patch
 * (relay/src/patches) keeps smtp-server from adding a second.
 */
export class SmtpReply extends Error {
  override name = 'SmtpReply';
  /** smtp-server reads `responseCode` from handler errors. */
  readonly responseCode: number;

  constructor(
    readonly code: number,
    readonly enhanced: string,
    readonly text: string,
    /** Why the reply was given: the `reason` label of mxkit_rejected_total and of the log line. */
    readonly reason: string,
  ) {
    super(`${enhanced} ${text}`);
    this.responseCode = code;
    if (!/^[245]\.\d{1,3}\.\d{1,3}$/.test(enhanced) || String(code)[0] !== enhanced[0]) {
      throw new Error(`enhanced status ${enhanced} does not fit reply ${code}`);
    }
  }

  get isTemporary(): boolean {
    return this.code >= 400 && this.code < 500;
  }

  /** The same reply, counted under another reason (e.g. an SRS refusal that reads as an unknown user). */
  because(reason: string): SmtpReply {
    return new SmtpReply(this.code, this.enhanced, this.text, reason);
  }

  /** What a client sees on the wire, e.g. `554 5.7.1 Relaying denied`. */
  override toString(): string {
    return `${this.code} ${this.message}`;
  }
}

/** The replies the intake gives, kept as data so tests and docs can name them. */
export const Replies = {
  relayDenied: () => new SmtpReply(554, '5.7.1', 'Relaying denied', 'relay_denied'),
  unknownUser: (address: string) => new SmtpReply(550, '5.1.1', `<${address}>: no such user here`, 'unknown_user'),
  badRecipientSyntax: (address: string) => new SmtpReply(553, '5.1.3', `<${address}>: address form not accepted`, 'bad_recipient'),
  badSenderSyntax: (address: string) => new SmtpReply(553, '5.1.7', `<${address}>: sender address form not accepted`, 'bad_sender'),
  authRequired: () => new SmtpReply(530, '5.7.0', 'Authentication required', 'auth_required'),
  senderNotAllowed: (address: string) => new SmtpReply(553, '5.7.1', `<${address}>: sender not owned by the authenticated user`, 'sender_not_allowed'),
  headerFromNotAllowed: (address: string) => new SmtpReply(550, '5.7.1', `From: <${address}> is not an address the authenticated user may send as`, 'header_from_not_allowed'),
  headerFromUnreadable: (problem: string) => new SmtpReply(550, '5.6.0', `From: cannot be read one way only (${problem.replace(/[^\x20-\x7e]/g, '?')})`, 'header_from_unreadable'),
  headerTooBig: (limit: number) => new SmtpReply(552, '5.3.4', `Header section exceeds the ${limit} byte limit`, 'header_too_big'),
  authFailed: () => new SmtpReply(535, '5.7.8', 'Authentication credentials invalid', 'auth_failed'),
  // RFC 4954 6: 454 4.7.0 Temporary authentication failure.
  authTemporarilyRefused: () => new SmtpReply(454, '4.7.0', 'Temporary authentication failure, try again later', 'auth_unavailable'),
  // RFC 4954 4: 504 for a mechanism not offered (XOAUTH2/OAUTHBEARER without auth.oauth).
  authMechanismUnavailable: () => new SmtpReply(504, '5.5.4', 'Unrecognized authentication type', 'auth_mechanism'),
  // RFC 4954 4: 501 when the client aborts (*) or its response cannot be decoded.
  authAborted: () => new SmtpReply(501, '5.7.0', 'Authentication aborted', 'auth_aborted'),
  authResponseUnreadable: (mechanism: string) => new SmtpReply(501, '5.5.2', `Cannot decode the ${mechanism} client response`, 'auth_syntax'),
  authSyntax: (mechanism: string) => new SmtpReply(501, '5.5.4', `Syntax: AUTH ${mechanism} [initial-response]`, 'auth_syntax'),
  authThrottled: () => new SmtpReply(421, '4.7.0', 'Too many failed authentications from your address, try again later', 'auth_throttled'),
  tooManyRecipients: () => new SmtpReply(452, '4.5.3', 'Too many recipients', 'too_many_recipients'),
  tooManyConnections: () => new SmtpReply(421, '4.7.0', 'Too many connections from your address', 'too_many_connections'),
  tooManyRefusedRecipients: () => new SmtpReply(421, '4.7.0', 'Too many refused recipients, closing connection', 'too_many_refused_recipients'),
  serverBusy: () => new SmtpReply(421, '4.3.2', 'Too many connections, try again later', 'too_many_connections'),
  messageTooBig: (limit: number) => new SmtpReply(552, '5.3.4', `Message exceeds the ${limit} byte size limit`, 'message_too_big'),
  bareLineEnding: () => new SmtpReply(554, '5.6.0', 'Message has a bare CR or LF; lines must end in CRLF (RFC 5321 2.3.8)', 'bare_line_ending'),
  // RFC 3463 4.3.1 "mail system full"; RFC 1870 6.1: 452 for a SIZE= that cannot fit now.
  inFlightBudgetExceeded: () => new SmtpReply(452, '4.3.1', 'Insufficient system storage for this message now, try again later', 'in_flight_budget'),
  spoolFailed: () => new SmtpReply(451, '4.3.0', 'Could not store the message, try again later', 'spool_error'),
  shuttingDown: () => new SmtpReply(421, '4.3.2', 'Service shutting down, try again later', 'shutting_down'),
  tlsRequired: () => new SmtpReply(530, '5.7.0', 'Must issue a STARTTLS command first', 'tls_required'),
  // Spam filtering (relay/src/spam). Postfix's wording for a DNSBL refusal, which senders' admins recognise.
  dnsblListed: (list: string, client: string) => new SmtpReply(554, '5.7.1', `Service unavailable; client [${client}] blocked using ${list}`, 'dnsbl_listed'),
  spamRejected: (reason: string) => new SmtpReply(550, '5.7.1', `Message rejected as spam: ${reason}`, 'spam'),
  spamSoftReject: (reason: string) => new SmtpReply(451, '4.7.1', `Message deferred by the spam filter, try again later: ${reason}`, 'spam_soft_reject'),
  spamScanUnavailable: () => new SmtpReply(451, '4.3.0', 'Content scan unavailable, try again later', 'spam_scan_unavailable'),
  sendingLimit: (limit: number, retryAt: Date, now = Date.now()) =>
    new SmtpReply(
      450,
      '4.7.1',
      `Sending limit of ${limit} messages per hour reached; try again after ${retryAt.toISOString().replace(/\.\d+Z$/, 'Z')} (in ${Math.max(1, Math.ceil((retryAt.getTime() - now) / 60_000))} min)`,
      'user_rate_limit',
    ),
} as const;
