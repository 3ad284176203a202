/**
 * One SMTP client session to one address (nodemailer's SMTPConnection): EHLO, STARTTLS, optional
 * AUTH, MAIL, RCPT per recipient, DATA. Returns each recipient's reply so the caller can record
 * per-recipient outcomes (RFC 5321 3.3: a RCPT refusal concerns that recipient only).
 */
import { Readable } from 'node:stream';
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

/**
 * Outbound connections are reused: after a transaction every recipient of which was accepted, the
 * session waits idle (RFC 5321 4.1.1.5 RSET is implied by a new MAIL) for the next message to the
 * same target, instead of a new TCP connection, greeting, EHLO and TLS handshake per message.
 */
const IDLE_MS = 5_000;
const MAX_IDLE_PER_TARGET = 8;
const MAX_MESSAGES_PER_CONNECTION = 100;

/** One open SMTP connection and whether it broke (refused, dropped, closed by the server). */
class LiveSession {
  broken: NodemailerError | undefined;
  private readonly waiters: Array<(error: NodemailerError) => void> = [];
  messages = 0;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly connection: SMTPConnection) {
    // Failures of the connection itself arrive as 'error' or 'end' events, not always through the
    // callback of the step in progress: every step races them.
    connection.on('error', (error: NodemailerError) => this.breakWith(error));
    connection.on('end', () => this.breakWith(Object.assign(new Error('connection closed by the server'), { code: 'ECONNECTION' })));
  }

  private breakWith(error: NodemailerError): void {
    this.broken ??= error;
    this.waiters.splice(0).forEach((wake) => wake(this.broken as NodemailerError));
  }

  step<T>(start: (resolve: (value: T) => void) => void): Promise<T | { broken: NodemailerError }> {
    return new Promise((resolve) => {
      if (this.broken) return resolve({ broken: this.broken });
      // A server that answers 421 closes the connection right after (RFC 5321 3.8): nodemailer
      // hands the step its reply and then emits 'end' in the same tick. The reply must win, so the
      // break is reported a turn later; a promise settles once, so whichever comes first stands.
      const onBroken = (error: NodemailerError) => setImmediate(() => resolve({ broken: error }));
      this.waiters.push(onBroken);
      start((value) => {
        // A finished step stops waiting for the connection to break: a kept waiter would hold the
        // step (and the message it sent) for as long as the connection is reused.
        const index = this.waiters.indexOf(onBroken);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(value);
      });
    });
  }

  close(): void {
    clearTimeout(this.idleTimer);
    this.connection.close();
  }
}

const idleSessions = new Map<string, LiveSession[]>();

function targetKey(target: SmtpTarget): string {
  return JSON.stringify([target.host, target.port, target.servername, target.heloName, target.tls, target.implicitTls, target.plaintext, target.auth?.user, target.ca]);
}

function takeIdle(key: string): LiveSession | undefined {
  const list = idleSessions.get(key) ?? [];
  let session = list.pop();
  while (session && session.broken) {
    session.close();
    session = list.pop();
  }
  if (list.length === 0) idleSessions.delete(key);
  if (session) clearTimeout(session.idleTimer);
  return session;
}

function keepIdle(key: string, session: LiveSession): void {
  const list = idleSessions.get(key) ?? [];
  if (session.broken || session.messages >= MAX_MESSAGES_PER_CONNECTION || list.length >= MAX_IDLE_PER_TARGET) return session.close();
  list.push(session);
  idleSessions.set(key, list);
  session.idleTimer = setTimeout(() => {
    const current = idleSessions.get(key) ?? [];
    const index = current.indexOf(session);
    if (index >= 0) current.splice(index, 1);
    if (current.length === 0) idleSessions.delete(key);
    session.connection.quit();
    session.close();
  }, IDLE_MS);
  session.idleTimer.unref();
}

/** Closes every idle outbound connection (shutdown). */
export function closeIdleConnections(): void {
  for (const list of idleSessions.values()) list.forEach((session) => session.close());
  idleSessions.clear();
}

const isBroken = (value: unknown): value is { broken: NodemailerError } => typeof value === 'object' && value !== null && 'broken' in value;

async function openSession(target: SmtpTarget, to: readonly string[]): Promise<LiveSession | SessionResult> {
  const session = new LiveSession(
    new SMTPConnection({
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
      // Not set: nodemailer's allowInternalNetworkInterfaces only decides which address families it
      // resolves names in, and we always hand it an address. What delivery may connect to is
      // decided before this, in transport.ts (public-address.ts).
      logger: false,
      ...TIMEOUTS,
    }),
  );
  const connected = await session.step<NodemailerError | undefined>((resolve) => session.connection.connect((error) => resolve(error)));
  if (isBroken(connected) || connected) {
    session.close();
    return unreachable(isBroken(connected) ? connected.broken : connected);
  }
  if (target.auth) {
    const auth = { user: target.auth.user, pass: target.auth.pass };
    const loggedIn = await session.step<NodemailerError | null>((resolve) => session.connection.login(auth, (error) => resolve(error)));
    if (isBroken(loggedIn)) {
      session.close();
      return unreachable(loggedIn.broken);
    }
    if (loggedIn) {
      session.close();
      // A refused AUTH is the upstream's answer about us: transient (fix the credentials, mail waits).
      const code = loggedIn.responseCode && loggedIn.responseCode >= 500 ? 454 : loggedIn.responseCode ?? 454;
      return allRecipients(session.connection.secure, to, { code, response: `AUTH failed: ${loggedIn.response ?? loggedIn.message}` });
    }
  }
  return session;
}

/** A message's bytes: whole, or in pieces sent one after the other (signature headers, then the message). */
export type MessageBytes = Buffer | readonly Buffer[];

export async function sendOverSmtp(target: SmtpTarget, from: string, to: readonly string[], message: MessageBytes): Promise<SessionResult> {
  const key = targetKey(target);
  for (let attempt = 0; attempt < 2; attempt++) {
    const reused = takeIdle(key);
    const opened = reused ?? (await openSession(target, to));
    if (!(opened instanceof LiveSession)) return opened;
    const session = opened;
    session.messages++;
    const sent = await session.step<SessionResult>((resolve) => void transaction(session.connection, from, to, message).then(resolve));
    if (isBroken(sent) || sent.kind === 'unreachable') {
      session.close();
      // A reused connection the server dropped while it sat idle: try once on a fresh one.
      if (reused) continue;
      return isBroken(sent) ? unreachable(sent.broken) : sent;
    }
    const allAccepted = [...sent.replies.values()].every((reply) => reply.code >= 200 && reply.code < 300);
    if (allAccepted) keepIdle(key, session);
    else session.close();
    return sent;
  }
  return unreachable(Object.assign(new Error('connection lost'), { code: 'ECONNECTION' }));
}

/**
 * The signature headers and a small message are joined into one buffer: copying a few kilobytes
 * costs less than a stream per message (issue 17 round 5). A large one goes out as a stream of
 * its pieces, so no second copy of it is made.
 */
const JOIN_BELOW_BYTES = 256 * 1024;

function transaction(connection: SMTPConnection, from: string, to: readonly string[], message: MessageBytes): Promise<SessionResult> {
  const pieces: readonly Buffer[] = Buffer.isBuffer(message) ? [message] : message;
  const size = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const content = pieces.length === 1 ? pieces[0] : size <= JOIN_BELOW_BYTES ? Buffer.concat(pieces, size) : Readable.from(pieces, { objectMode: false });
  return new Promise((resolve) => {
    connection.send({ from: from === '' ? false : from, to: [...to], size, use8BitMime: true }, content, (error, info) => {
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
