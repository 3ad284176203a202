/**
 * What sets the three SMTP listeners apart, as data (docs/architecture.md "Listener profiles"):
 * chosen once per listener, read by the session handlers, the DATA path and the server options,
 * so a behaviour difference is a field here rather than a `kind === 'mx'` branch.
 */
import type { Origin } from '../spool/envelope';
import type { ListenerKind } from './context';

export interface ListenerProfile {
  kind: ListenerKind;
  /** Written into the spool envelope: delivery, the trace and suppression decide by it. */
  origin: Extract<Origin, 'inbound' | 'submission'>;
  /**
   * AUTH: never (mx, RFC 5321 MTA-to-MTA); once the session is encrypted (submission: STARTTLS
   * first, RFC 8314 / RFC 4954 4); at once (submissions: implicit TLS, RFC 8314 3.3).
   */
  auth: 'none' | 'after-starttls' | 'at-once';
  /**
   * Who may send where: `our-domains` takes mail for our domains and routes from anyone (the bare
   * `postmaster` is ours, RFC 5321 4.1.1.3); `authenticated` takes mail to anywhere from our users
   * (or trustedNetworks), with their allowedFrom, sending limits and the suppression list.
   */
  recipients: 'our-domains' | 'authenticated';
  /**
   * Checks for mail from strangers: DNSBL screening at connect, SPF/DKIM/DMARC/ARC at DATA, forged
   * Authentication-Results and spam headers removed, rspamd's verdict written into the message.
   */
  inboundChecks: boolean;
  /**
   * A message submission agent (RFC 6409 section 8, intake/msa/): bare CR and LF normalised to CRLF
   * instead of refused (DATA still ends only at <CRLF>.<CRLF>), Date and Message-ID added when
   * missing, Bcc removed. Off on mx, where bare line endings are refused (SMTP smuggling) and a
   * relay must not change what another MTA sent.
   */
  submissionAgent: boolean;
  /** Milliseconds before the greeting; undefined keeps smtp-server's 100 ms early-talker pause. */
  greetingDelayMs?: number;
  /** Refused RCPTs one session may collect before it is cut off with 421 (undefined: never). */
  refusedRecipientLimit?: number;
  /** Implicit TLS: the connection is encrypted from its first byte. */
  implicitTls: boolean;
}

/** Refused RCPTs on `mx` one session may collect before it is cut off (Postfix smtpd_hard_error_limit-like). */
export const MAX_REFUSED_RECIPIENTS = 10;

export const LISTENER_PROFILES: Readonly<Record<ListenerKind, ListenerProfile>> = {
  mx: { kind: 'mx', origin: 'inbound', auth: 'none', recipients: 'our-domains', inboundChecks: true, submissionAgent: false, refusedRecipientLimit: MAX_REFUSED_RECIPIENTS, implicitTls: false },
  // Our own users: the early-talker pause would only cap each session at ten messages a second.
  submission: { kind: 'submission', origin: 'submission', auth: 'after-starttls', recipients: 'authenticated', inboundChecks: false, submissionAgent: true, greetingDelayMs: 0, implicitTls: false },
  submissions: { kind: 'submissions', origin: 'submission', auth: 'at-once', recipients: 'authenticated', inboundChecks: false, submissionAgent: true, greetingDelayMs: 0, implicitTls: true },
};
