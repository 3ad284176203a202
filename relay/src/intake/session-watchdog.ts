/**
 * Deadlines that a trickling client cannot reset. smtp-server's own timeout is an idle timer on
 * the socket: every byte restarts it, so one byte every few seconds held a session (and its slot)
 * forever (issue 13). Here, as with Postfix's smtpd_per_request_deadline and smtpd_min_data_rate:
 *
 * - request deadline: each command line must be complete within limits.idleTimeout of the
 *   previous one (bytes of an unfinished line do not count); under stress (connection-tracker.ts)
 *   within STRESS_TIMEOUT_MS instead, like Postfix's stress-dependent smtpd_timeout;
 * - DATA: the deadline moves on by the time limits.minDataRate needs for the bytes that arrived,
 *   never further than a full request deadline from now;
 * - after STARTTLS: the handshake and the next command within limits.tlsHandshakeTimeout;
 * - session deadline: after limits.sessionTimeout a session is closed at its next command that is
 *   not part of an open transaction.
 *
 * While the server owes the client a reply (a handler is running, the message is being checked),
 * nothing times out: RFC 5321 4.5.3.2 has the client wait minutes for those.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { SessionLifecycle, SmtpConnectionInternals } from '../patches';
import { SmtpReply } from './reply';

/** Postfix's stress-mode smtpd_timeout. */
export const STRESS_TIMEOUT_MS = 10_000;

export interface WatchdogOptions {
  requestTimeoutMs(): number;
  tlsHandshakeTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Bytes per second a message must arrive at (after the first request deadline). */
  minDataRate: number;
}

class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private deadline = 0;
  private readonly startedAt = Date.now();
  private inData = false;

  constructor(
    private readonly connection: SmtpConnectionInternals,
    private readonly options: WatchdogOptions,
  ) {}

  /** A complete command arrived: the next one has a fresh deadline. */
  command(line: string): SmtpReply | undefined {
    this.inData = /^DATA\b/i.test(line);
    const transactionOpen = this.connection.session.envelope?.mailFrom !== false && this.connection.session.envelope?.mailFrom !== undefined;
    if (Date.now() - this.startedAt > this.options.sessionTimeoutMs && !(transactionOpen && /^(RCPT|DATA|BDAT)\b/i.test(line))) {
      return new SmtpReply(421, '4.4.2', 'Session time limit reached, closing connection', 'session_time_limit');
    }
    this.arm(/^STARTTLS\b/i.test(line) ? this.options.tlsHandshakeTimeoutMs : this.options.requestTimeoutMs());
    return undefined;
  }

  /** `bytes` of DATA arrived: the deadline moves on at the minimum rate. */
  progress(bytes: number): void {
    // Only moves the deadline; the pending timer notices when it fires (no timer churn per chunk).
    this.deadline = Math.min(this.deadline + (bytes / this.options.minDataRate) * 1000, Date.now() + this.options.requestTimeoutMs());
  }

  arm(ms: number): void {
    this.deadline = Date.now() + ms;
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.expire(), Math.max(0, this.deadline - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    const connection = this.connection;
    if (connection._closing || connection._closed) return;
    if (Date.now() < this.deadline) return this.schedule();
    const parser = connection._parser;
    const owed = connection._handlerPending || (connection._dataStream && parser && !parser._dataMode);
    if (owed) return this.arm(this.options.requestTimeoutMs());
    const reply = this.inData ? new SmtpReply(421, '4.4.2', 'Message arriving too slowly, closing connection', 'data_too_slow') : new SmtpReply(421, '4.4.2', 'Timeout, closing connection', 'timeout');
    connection.send(reply.code, reply.message);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

const watchdogs = new WeakMap<SMTPServerSession, Watchdog>();
/** Accepted sockets whose implicit-TLS handshake is still running: the timer that ends them. */
const handshakes = new WeakMap<object, NodeJS.Timeout>();
/** Accepted sockets and the release of their connection slot. */
const admissions = new WeakMap<object, () => void>();

/**
 * Releases `release` (idempotent) when the accepted socket closes. smtp-server removes every
 * listener of the plain socket when it starts STARTTLS, so the session's own close (the
 * lifecycle below) releases too.
 */
export function releaseOnClose(socket: { once(event: 'close', listener: () => void): void }, release: () => void): void {
  admissions.set(socket, release);
  socket.once('close', release);
}

/**
 * An implicit-TLS socket (465) must finish its handshake within `ms` of being accepted, or it is
 * closed: smtp-server would wait its idle timeout, and a silent client would hold its slot.
 * `current` names the socket to destroy then: the TLS socket once smtp-server has wrapped the
 * accepted one (destroying the plain socket under a TLS socket mid-handshake crashes Node).
 */
export function armHandshakeDeadline(socket: { destroy(): void; once(event: 'close', listener: () => void): void }, ms: number, current: () => { destroy(): void }): void {
  const timer = setTimeout(() => current().destroy(), ms);
  timer.unref();
  handshakes.set(socket, timer);
  socket.once('close', () => clearTimeout(timer));
}

/** Tells the session's watchdog that message bytes arrived (called by the DATA reader). */
export function noteDataProgress(session: SMTPServerSession, bytes: number): void {
  watchdogs.get(session)?.progress(bytes);
}

/**
 * The deadlines of one listener's sessions, as the session lifecycle smtp-server reports to
 * (patches/smtp-server.ts). Every listener sets one: it also ends an implicit-TLS handshake
 * deadline when the session starts and releases the connection slot when the session closes.
 */
export function sessionLifecycle(options: WatchdogOptions): SessionLifecycle {
  return {
    opened(connection) {
      // The session starts: the TLS socket's parent is the accepted socket that had a handshake deadline.
      const accepted = connection._socket._parent ?? connection._socket;
      clearTimeout(handshakes.get(accepted));
      handshakes.delete(accepted);
      const watchdog = new Watchdog(connection, options);
      watchdogs.set(connection.session, watchdog);
      watchdog.arm(options.requestTimeoutMs());
    },
    command(connection, line) {
      return watchdogs.get(connection.session)?.command(line);
    },
    closed(connection) {
      watchdogs.get(connection.session)?.stop();
      admissions.get(connection._socket._parent ?? connection._socket)?.();
    },
  };
}
