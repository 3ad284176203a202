/**
 * One SMTP client session to one address (nodemailer's SMTPConnection): EHLO, STARTTLS, optional
 * AUTH, MAIL, RCPT per recipient, DATA. Returns each recipient's reply so the caller can record
 * per-recipient outcomes (RFC 5321 3.3: a RCPT refusal concerns that recipient only).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { NodemailerError } from 'nodemailer/lib/errors';

export type TlsMode =
  /** STARTTLS when offered, certificate not verified (RFC 7435 opportunistic security). */
  | 'opportunistic'
  /** STARTTLS (or implicit TLS) required and the certificate verified for `servername` (MTA-STS, smarthost). */
  | 'verified';

export interface SmtpTarget {
  /** Address (or host name) to connect to. */
  host: string;
  port: number;
  /** The name TLS verifies and SNI sends (the MX or smarthost name). */
  servername: string;
  heloName: string;
  tls: TlsMode;
  /** Implicit TLS from the first byte (port 465, RFC 8314). */
  implicitTls?: boolean;
  /** Extra trusted CAs (tests); the system store otherwise. */
  ca?: string[];
  /** Never sent unless the session is encrypted (requireTLS or implicit TLS is enforced by the caller). */
  auth?: { user: string; pass: string };
  /** Skip STARTTLS: the second try after a failed opportunistic handshake. */
  plaintext?: boolean;
}

export interface RecipientReply {
  code: number;
  response: string;
}

export type SessionResult =
  | { kind: 'unreachable'; failure: 'connection' | 'tls'; detail: string }
  | { kind: 'session'; secure: boolean; replies: Map<string, RecipientReply> };

const TIMEOUTS = { connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 5 * 60_000, dnsTimeout: 10_000 };

export async function sendOverSmtp(target: SmtpTarget, from: string, to: readonly string[], message: Buffer): Promise<SessionResult> {
  const connection = new SMTPConnection({
    host: target.host,
    port: target.port,
    name: target.heloName,
    secure: target.implicitTls === true,
    requireTLS: target.tls === 'verified' && !target.implicitTls,
    ignoreTLS: target.plaintext === true && target.tls !== 'verified',
    opportunisticTLS: target.tls === 'opportunistic',
    tls: {
      servername: target.servername,
      rejectUnauthorized: target.tls === 'verified',
      minVersion: 'TLSv1.2',
      ...(target.ca ? { ca: target.ca } : {}),
    },
    allowInternalNetworkInterfaces: true,
    logger: false,
    ...TIMEOUTS,
  });
  // Failures of the connection itself (refused, TLS handshake, dropped) arrive as 'error' or 'end'
  // events, not always through the callback of the step in progress: every step races them.
  let broken: NodemailerError | undefined;
  const brokenWaiters: Array<(error: NodemailerError) => void> = [];
  const breakWith = (error: NodemailerError) => {
    broken ??= error;
    brokenWaiters.splice(0).forEach((wake) => wake(broken as NodemailerError));
  };
  connection.on('error', breakWith);
  connection.on('end', () => breakWith(Object.assign(new Error('connection closed by the server'), { code: 'ECONNECTION' })));
  const step = <T>(start: (resolve: (value: T) => void) => void): Promise<T | { broken: NodemailerError }> =>
    new Promise((resolve) => {
      if (broken) return resolve({ broken });
      brokenWaiters.push((error) => resolve({ broken: error }));
      start(resolve);
    });
  const isBroken = (value: unknown): value is { broken: NodemailerError } => typeof value === 'object' && value !== null && 'broken' in value;
  try {
    const connected = await step<NodemailerError | undefined>((resolve) => connection.connect((error) => resolve(error)));
    if (isBroken(connected)) return unreachable(connected.broken);
    if (connected) return unreachable(connected);
    if (target.auth) {
      const auth = { user: target.auth.user, pass: target.auth.pass };
      const loggedIn = await step<NodemailerError | null>((resolve) => connection.login(auth, (error) => resolve(error)));
      if (isBroken(loggedIn)) return unreachable(loggedIn.broken);
      const authError = loggedIn;
      if (authError) {
        // A refused AUTH is the upstream's answer about us: transient (fix the credentials, mail waits).
        const code = authError.responseCode && authError.responseCode >= 500 ? 454 : authError.responseCode ?? 454;
        return allRecipients(connection.secure, to, { code, response: `AUTH failed: ${authError.response ?? authError.message}` });
      }
    }
    const sent = await step<SessionResult>((resolve) => void transaction(connection, from, to, message).then(resolve));
    return isBroken(sent) ? unreachable(sent.broken) : sent;
  } finally {
    connection.close();
  }
}

function transaction(connection: SMTPConnection, from: string, to: readonly string[], message: Buffer): Promise<SessionResult> {
  return new Promise((resolve) => {
    connection.send({ from: from === '' ? false : from, to: [...to], size: message.length, use8BitMime: true }, message, (error, info) => {
      const replies = new Map<string, RecipientReply>();
      if (!error && info) {
        for (const rejected of info.rejectedErrors ?? []) {
          if (rejected.recipient) replies.set(rejected.recipient, replyOf(rejected));
        }
        for (const accepted of info.accepted) replies.set(accepted, { code: 250, response: info.response });
        return resolve({ kind: 'session', secure: connection.secure, replies });
      }
      const failure = error as NodemailerError;
      if (failure.responseCode === undefined) return resolve(unreachable(failure));
      // EENVELOPE lists each refused recipient; a refused MAIL FROM or DATA concerns all of them.
      const perRecipient = failure.code === 'EENVELOPE' ? (failure as NodemailerError & { rejectedErrors?: NodemailerError[] }).rejectedErrors : undefined;
      if (perRecipient && perRecipient.length > 0) {
        for (const rejected of perRecipient) if (rejected.recipient) replies.set(rejected.recipient, replyOf(rejected));
        for (const recipient of to) if (!replies.has(recipient)) replies.set(recipient, replyOf(failure));
        return resolve({ kind: 'session', secure: connection.secure, replies });
      }
      resolve(allRecipients(connection.secure, to, replyOf(failure)));
    });
  });
}

function replyOf(error: NodemailerError): RecipientReply {
  return { code: error.responseCode ?? 451, response: error.response ?? error.message };
}

function allRecipients(secure: boolean, to: readonly string[], reply: RecipientReply): SessionResult {
  return { kind: 'session', secure, replies: new Map(to.map((recipient) => [recipient, reply])) };
}

function unreachable(error: NodemailerError): SessionResult {
  // A greeting of 421/554 (RFC 5321 3.1) also lands here: that host will not talk to us now.
  const detail = error.response ? `${error.message}: ${error.response}` : error.message;
  return { kind: 'unreachable', failure: isTlsFailure(error) ? 'tls' : 'connection', detail };
}

/** STARTTLS refused, handshake failed, or the certificate did not verify (Node's TLS error codes). */
function isTlsFailure(error: NodemailerError): boolean {
  const codes = [error.code, (error as { originalCode?: string }).originalCode].filter((code): code is string => typeof code === 'string');
  return codes.some((code) => code === 'ETLS' || /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_/.test(code));
}
