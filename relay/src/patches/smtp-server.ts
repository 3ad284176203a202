/**
 * The patches of smtp-server's SMTPConnection (see index.ts for how patches are checked and
 * installed). Each reads its setting per server, from an extra smtp-server option our listeners
 * set (intake/listeners.ts), so a server without the option behaves as upstream ships it; the
 * one exception is the raw envelope address, which every server in the process gets.
 */
import type { SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { version as smtpServerVersion } from 'smtp-server/package.json';
import type { AnyMethod, MethodPatch } from './method-patch';
import type { SaslMechanism } from './smtp-server-sasl';

/** A reply the patches send on the wire: the text starts with its enhanced status code. */
export interface WireReply {
  code: number;
  message: string;
}

/**
 * What a listener's sessions report to (the option `sessionLifecycle`): intake/session-watchdog.ts
 * keeps its deadlines and connection slots this way.
 */
export interface SessionLifecycle {
  /** A session starts, before its greeting. */
  opened(connection: SmtpConnectionInternals): void;
  /** A complete command line arrived; a reply is sent instead of running the command. */
  command(connection: SmtpConnectionInternals, line: string): WireReply | undefined;
  /** The session's connection closed. */
  closed(connection: SmtpConnectionInternals): void;
}

/** The options the patches read, beside smtp-server's own. */
export interface PatchedServerOptions {
  /** Milliseconds before the greeting; without it, upstream's fixed 100 ms early-talker pause. */
  greetingDelayMs?: number;
  /** Judges MAIL FROM's parameters before smtp-server does; a reply refuses the command. */
  mailParameters?: (args: Record<string, unknown> | false | undefined, authOffered: boolean) => WireReply | undefined;
  sessionLifecycle?: SessionLifecycle;
  /** SASL mechanisms by name that replace or add to smtp-server's own (smtp-server-sasl.ts). */
  saslMechanisms?: Readonly<Record<string, SaslMechanism>>;
}

/** What the patches (and the session lifecycle) use of an smtp-server connection. */
export interface SmtpConnectionInternals {
  name: string;
  session: SMTPServerSession;
  _socket: { _parent?: object };
  _server: { options: PatchedServerOptions & { maxClients?: number }; connections: Set<unknown> };
  _handlerPending?: boolean;
  _dataStream?: unknown;
  _parser?: { _dataMode?: boolean } | false;
  _closing?: boolean;
  _closed?: boolean;
  send(code: number, data: unknown, context?: unknown): void;
  _setListeners(ready: () => void): void;
  connectionReady(): void;
  _isSupported(command: string): boolean;
}

const connectionPrototype = () => SMTPConnection.prototype as unknown as Record<string, unknown>;

/** The method patch of `SMTPConnection.prototype[method]`. */
function connectionPatch(method: string, arity: number, replace: MethodPatch['replace']): MethodPatch {
  return { module: 'smtp-server', version: smtpServerVersion, name: `SMTPConnection.prototype.${method}`, owner: connectionPrototype, method, arity, replace };
}

type Method<Args extends unknown[], Result> = (this: SmtpConnectionInternals, ...args: Args) => Result;
const typed = <Args extends unknown[], Result>(method: AnyMethod) => method as unknown as Method<Args, Result>;
const untyped = <Args extends unknown[], Result>(method: Method<Args, Result>) => method as unknown as AnyMethod;

/**
 * smtp-server waits a fixed 100 ms before its 220 greeting, to catch clients that talk before
 * being spoken to (a spam-bot tell, worth it on port 25: such a client gets "421 You talk too
 * soon"). On the submission ports the clients are our own authenticated users, and the wait caps
 * each session at ten messages a second, so those listeners set the option `greetingDelayMs: 0`.
 * Without the option, upstream's init runs unchanged; with it, upstream's maxClients check is kept.
 */
export const greetingDelay = connectionPatch('init', 0, (original) =>
  untyped(function init(this: SmtpConnectionInternals) {
    const delay = this._server.options.greetingDelayMs;
    if (delay === undefined) return typed<[], void>(original).call(this);
    this._setListeners(() => {
      // Upstream's connection limit, as its init has it (smtp-server lib/smtp-connection.js).
      const { maxClients } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  }),
);

/**
 * smtp-server prefixes every reply with an enhanced code looked up from the reply code. When the
 * text already starts with one (every SmtpReply does, intake/reply.ts), tell it not to add a
 * second (context `false`), so `554 5.7.1 Relaying denied` goes out rather than
 * `554 5.6.0 5.7.1 Relaying denied`.
 */
export const enhancedStatusPassthrough = connectionPatch('send', 3, (original) =>
  untyped(function send(this: SmtpConnectionInternals, code: number, data: unknown, context?: unknown) {
    const call = typed<[number, unknown, unknown?], unknown>(original);
    if (context === undefined && typeof data === 'string' && /^[245]\.\d{1,3}\.\d{1,3} /.test(data)) return call.call(this, code, data, false);
    return call.call(this, code, data, context);
  }),
);

/**
 * smtp-server (3.21, _parseAddressCommand) checks the path's syntax, strips a source route, and
 * then rewrites the domain with punycode.toUnicode: labels that start with a lower-case `xn--` are
 * decoded (`XN--` is not; a fake A-label such as `xn--example-` decodes to plain `example`), every
 * other label is left as sent. Deciding on that would let one recipient have several spellings, so
 * the handlers get the address exactly as the client wrote it, and intake/envelope-address.ts
 * normalises it once with the relay's one address model (mail/address.ts). Every server in the
 * process gets this: the relay runs only its own, and tests' receivers then see what was sent.
 */
export const rawEnvelopeAddress = connectionPatch('_parseAddressCommand', 2, (original) =>
  untyped(function parseAddressCommand(this: SmtpConnectionInternals, name: string, command: unknown) {
    const parsed = typed<[string, unknown], { address: string } | false>(original).call(this, name, command);
    if (parsed && parsed.address) {
      // The same steps smtp-server took before converting the domain (the command passed them).
      const path = String(command).split(':').slice(1).join(':').trim().split(/\s+/)[0] ?? '';
      parsed.address = path.slice(1, -1).replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, '');
    }
    return parsed;
  }),
);

/**
 * smtp-server accepts MAIL FROM parameters of extensions it does not advertise (RET, ENVID, ...)
 * silently; the option `mailParameters` judges them first thing in its parameter validation
 * (intake/smtp-parameters.ts has the rule).
 */
export const mailParameterCheck = connectionPatch('_validateMailParams', 1, (original) =>
  untyped(function validateMailParams(this: SmtpConnectionInternals, parsed: { args?: Record<string, unknown> | false }) {
    const refusal = this._server.options.mailParameters?.(parsed.args, this._isSupported('AUTH'));
    // The message starts with its enhanced code, which the passthrough above keeps as is.
    if (refusal) return { code: refusal.code, message: refusal.message };
    return typed<[unknown], unknown>(original).call(this, parsed);
  }),
);

/** The session lifecycle (option `sessionLifecycle`) hears of a session's start... */
export const sessionOpened = connectionPatch('init', 0, (original) =>
  untyped(function init(this: SmtpConnectionInternals) {
    this._server.options.sessionLifecycle?.opened(this);
    return typed<[], void>(original).call(this);
  }),
);

/** ...of each complete command line, which it may answer instead... */
export const sessionCommand = connectionPatch('_onCommand', 2, (original) =>
  untyped(function onCommand(this: SmtpConnectionInternals, command: Buffer, callback: () => void) {
    const refusal = this._server.options.sessionLifecycle?.command(this, (command || '').toString());
    if (refusal) return this.send(refusal.code, refusal.message);
    return typed<[Buffer, () => void], void>(original).call(this, command, callback);
  }),
);

/** ...and of its close. */
export const sessionClosed = connectionPatch('_onClose', 0, (original) =>
  untyped(function onClose(this: SmtpConnectionInternals) {
    this._server.options.sessionLifecycle?.closed(this);
    return typed<[], void>(original).call(this);
  }),
);
