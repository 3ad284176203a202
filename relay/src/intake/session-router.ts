/**
 * A config reload without dropping anyone: each SMTP session is pinned, when it connects, to the
 * SessionHandlers of the config that was current then, and keeps them to its end. New sessions get
 * the handlers of the newest config. So a user removed by a reload cannot log in on a new
 * connection, while a message already in transit finishes under the rules it started with
 * (Postfix `postfix reload` behaves alike: running smtpd processes finish their sessions).
 */
import type { SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { OAuthLoginOutcome, OAuthLoginRequest } from './oauth/sasl';
import type { SessionHandlers } from './session-handlers';

type Done = (error?: Error | null) => void;

export class SessionRouter {
  private readonly pinned = new WeakMap<SMTPServerSession, SessionHandlers>();

  constructor(private current: SessionHandlers) {}

  /** Sessions that connect from now on use `handlers`; open ones keep theirs. */
  replace(handlers: SessionHandlers): void {
    this.current = handlers;
  }

  private of(session: SMTPServerSession): SessionHandlers {
    return this.pinned.get(session) ?? this.current;
  }

  onConnect = (session: SMTPServerSession, done: Done): void => {
    const handlers = this.current;
    this.pinned.set(session, handlers);
    handlers.onConnect(session, done);
  };

  onSecure = (socket: unknown, session: SMTPServerSession, done: Done): void => this.of(session).onSecure(socket, session, done);

  onAuth = (auth: SMTPServerAuthentication, session: SMTPServerSession, done: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void): void =>
    this.of(session).onAuth(auth, session, done);

  oauthLogin = (request: OAuthLoginRequest, session: SMTPServerSession): Promise<OAuthLoginOutcome> => this.of(session).oauthLogin(request, session);

  onMailFrom = (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => this.of(session).onMailFrom(address, session, done);

  onRcptTo = (address: SMTPServerAddress, session: SMTPServerSession, done: Done): void => this.of(session).onRcptTo(address, session, done);

  onData = (stream: SMTPServerDataStream, session: SMTPServerSession, done: (error?: Error | null, message?: string) => void): void =>
    this.of(session).onData(stream, session, done);
}
