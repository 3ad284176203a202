/**
 * SASL OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's older form of the same exchange, which
 * Microsoft 365, Gmail and nodemailer speak) for smtp-server. smtp-server looks mechanisms up by
 * name in its SASL table; a patch (relay/src/patches/smtp-server-sasl.ts) runs these instead when a
 * listener names them in its `saslMechanisms` option (XOAUTH2 replacing the library's), which gives
 * both the RFC 7628 failure sequence with our replies: a bad token gets a 334 error challenge (a base64 JSON
 * object, section 3.2.2), the client answers with a dummy line (%x01, section 3.2.3), and only then
 * comes `535 5.7.8`. Deciding about the token is not done here: the listener's `oauthLogin` option
 * (SessionHandlers) does that, so this file only speaks the protocol.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { SaslMechanism } from '../../patches';
import { Replies, type SmtpReply } from '../reply';

export type OAuthMechanism = 'XOAUTH2' | 'OAUTHBEARER';
export const OAUTH_MECHANISMS: readonly OAuthMechanism[] = ['XOAUTH2', 'OAUTHBEARER'];

export interface OAuthLoginRequest {
  method: OAuthMechanism;
  /** XOAUTH2 `user=`, OAUTHBEARER `a=` (optional there). */
  user?: string;
  token: string;
}

/** A user name (235), a reply to send as is (421 throttled, 454), or the error challenge of a failed token. */
export type OAuthLoginOutcome = { user: string } | { reply: SmtpReply } | { challenge: Record<string, string> };

export type OAuthLogin = (request: OAuthLoginRequest, session: SMTPServerSession) => Promise<OAuthLoginOutcome>;

/** What the mechanisms use of smtp-server's connection (they run with it as `this`). */
interface SaslConnection {
  send(code: number, data?: string): void;
  _nextHandler: false | ((line: Buffer | string, callback: () => void) => void);
  _server: { options: { oauthLogin?: OAuthLogin } };
  session: SMTPServerSession;
  _transmissionType(): string;
}

type Mechanism = (this: SaslConnection, args: string[], callback: () => void) => void;

const KVSEP = '\x01';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\x00-\x1f\x7f]/;

/** `auth=Bearer <token>` (RFC 7628 section 3.1, RFC 6750 section 2.1 b64token). */
function bearerToken(value: string): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(value);
  return match ? match[1] : undefined;
}

/** XOAUTH2: `user=<user>^Aauth=Bearer <token>^A^A` (developers.google.com/gmail/imap/xoauth2-protocol). */
export function parseXoauth2(message: string): { user: string; token: string } | undefined {
  if (!message.endsWith(KVSEP + KVSEP)) return undefined;
  const fields = new Map<string, string>();
  for (const pair of message.slice(0, -2).split(KVSEP)) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return undefined;
    fields.set(pair.slice(0, equals).toLowerCase(), pair.slice(equals + 1));
  }
  const user = fields.get('user');
  const token = bearerToken(fields.get('auth') ?? '');
  if (!user || CONTROL.test(user) || !token) return undefined;
  return { user, token };
}

/** RFC 5801 section 4 saslname: `=2C` is a comma, `=3D` an equals sign; any other `=` is malformed. */
function saslName(value: string): string | undefined {
  if (/=(?!2C|3D)/i.test(value)) return undefined;
  return value.replace(/=2C/gi, ',').replace(/=3D/gi, '=');
}

/**
 * OAUTHBEARER client response (RFC 7628 section 3.1): a GS2 header `n,a=<authzid>,` (channel
 * binding `p=` is not offered, so refused), then `^A` and `key=value^A` pairs, ending in `^A^A`.
 */
export function parseOAuthBearer(message: string): { user?: string; token: string } | undefined {
  const header = /^([ny]),(?:a=([^,]*))?,/.exec(message);
  if (!header) return undefined;
  const rest = message.slice(header[0].length);
  if (!rest.startsWith(KVSEP) || !rest.endsWith(KVSEP + KVSEP)) return undefined;
  const fields = new Map<string, string>();
  for (const pair of rest.slice(1, -2).split(KVSEP)) {
    const match = /^([A-Za-z]+)=([\x21-\x7e\t\r\n ]*)$/.exec(pair);
    if (!match) return undefined;
    fields.set(match[1].toLowerCase(), match[2]);
  }
  const token = bearerToken(fields.get('auth') ?? '');
  const user = header[2] === undefined ? undefined : saslName(header[2]);
  if (!token || (header[2] !== undefined && (user === undefined || CONTROL.test(user)))) return undefined;
  return { ...(user ? { user } : {}), token };
}

function decode(text: string): string | undefined {
  // RFC 4954 section 4: "=" is an empty initial response.
  if (text === '=' || !BASE64.test(text)) return text === '=' ? '' : undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}

function respond(this: SaslConnection, method: OAuthMechanism, line: string, callback: () => void): void {
  const text = line.trim();
  if (text === '*') {
    const aborted = Replies.authAborted();
    this.send(aborted.code, aborted.message);
    return callback();
  }
  const decoded = decode(text);
  const parsed = decoded === undefined ? undefined : method === 'XOAUTH2' ? parseXoauth2(decoded) : parseOAuthBearer(decoded);
  const login = this._server.options.oauthLogin;
  if (!parsed || !login) {
    const unreadable = Replies.authResponseUnreadable(method);
    this.send(unreadable.code, unreadable.message);
    return callback();
  }
  login({ method, ...(parsed.user !== undefined ? { user: parsed.user } : {}), token: parsed.token }, this.session).then(
    (outcome) => {
      if ('user' in outcome) {
        this.session.user = outcome.user;
        this.session.transmissionType = this._transmissionType();
        this.send(235, '2.7.0 Authentication successful');
      } else if ('reply' in outcome) {
        this.send(outcome.reply.code, outcome.reply.message);
      } else {
        // RFC 7628 3.2.3: whatever the client sends next (it should be %x01), the exchange fails.
        this._nextHandler = (_line, next) => {
          const failed = Replies.authFailed();
          this.send(failed.code, failed.message);
          next();
        };
        this.send(334, Buffer.from(JSON.stringify(outcome.challenge)).toString('base64'));
      }
      callback();
    },
    () => {
      const failed = Replies.authTemporarilyRefused();
      this.send(failed.code, failed.message);
      callback();
    },
  );
}

function mechanism(method: OAuthMechanism): Mechanism {
  return function start(this: SaslConnection, args: string[], callback: () => void): void {
    if (args.length > 1) {
      const syntax = Replies.authSyntax(method);
      this.send(syntax.code, syntax.message);
      return callback();
    }
    if (args.length === 1) return respond.call(this, method, args[0], callback);
    // No initial response: an empty challenge, the client's response comes on the next line.
    this._nextHandler = (line, next) => respond.call(this, method, line.toString(), next);
    this.send(334, '');
    callback();
  };
}

/** The mechanisms a listener with OAuth providers names in its `saslMechanisms` option. */
export const OAUTH_SASL_MECHANISMS: Readonly<Record<OAuthMechanism, SaslMechanism>> = {
  XOAUTH2: mechanism('XOAUTH2') as unknown as SaslMechanism,
  OAUTHBEARER: mechanism('OAUTHBEARER') as unknown as SaslMechanism,
};
