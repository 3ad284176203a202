/**
 * One smtp-server instance per configured SMTP listener (mx, submission, submissions): options,
 * TLS policy, admission of connections before anything else happens on them, deadlines, and the
 * draining steps of a graceful shutdown.
 */
import { constants as cryptoConstants } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { TlsMaterial } from '../tls/material';
import { WITHOUT_CLIENT_CAS } from '../tls/server-context';
import { ConfigError, type RelayConfig } from '../config/schema';
import { parseDuration } from '../config/duration';
import { installPatches, type PatchedServerOptions } from '../patches';
import { Replies, type SmtpReply } from './reply';
import type { IntakeContext, ListenerKind } from './context';
import { LISTENER_PROFILES } from './listener-profile';
import { OAUTH_MECHANISMS, OAUTH_SASL_MECHANISMS } from './oauth/sasl';
import { SessionHandlers } from './session-handlers';
import { SessionRouter } from './session-router';
import { armHandshakeDeadline, releaseOnClose, sessionLifecycle, STRESS_TIMEOUT_MS, type WatchdogOptions } from './session-watchdog';
import { unsupportedParameter } from './smtp-parameters';
import { logListenerError } from './listener-errors';

export const SMTP_LISTENERS: readonly ListenerKind[] = ['mx', 'submission', 'submissions'];

export interface SmtpListener {
  kind: ListenerKind;
  server: SMTPServer;
  address: AddressInfo;
  /** A reloaded config: new sessions get it, open sessions keep the one they started with. */
  reconfigure(context: IntakeContext): void;
}

/** PLAIN and LOGIN always; XOAUTH2 and OAUTHBEARER (RFC 7628) when auth.oauth names a provider. */
export function authMethodsFor(oauthEnabled: boolean): string[] {
  return ['PLAIN', 'LOGIN', ...(oauthEnabled ? OAUTH_MECHANISMS : [])];
}

/** The server-wide options that follow the config (a reload updates them in place, see reconfigure). */
function configuredOptions(context: IntakeContext): Pick<SMTPServerOptions, 'name' | 'size' | 'authMethods'> {
  const { config } = context;
  return { name: config.hostname, size: config.limits.maxMessageBytes, authMethods: authMethodsFor(context.oauth?.enabled === true) };
}

/**
 * TLS as BCP 195 (RFC 9325 4.2) asks: 1.2 or newer; for 1.2 only ECDHE key exchange with AEAD
 * ciphers (no static RSA, no CBC, no CCM-8); 1.3 suites as OpenSSL ships them. Renegotiation is
 * refused (SSL_OP_NO_RENEGOTIATION): it buys a client nothing on SMTP and is a CPU lever.
 */
export const SMTP_TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
  secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  ...WITHOUT_CLIENT_CAS,
} as const;

function watchdogOptions(kind: ListenerKind, config: RelayConfig, context: IntakeContext): WatchdogOptions {
  const idle = parseDuration(config.limits.idleTimeout);
  return {
    requestTimeoutMs: () => (context.connections.underStress(kind) ? Math.min(STRESS_TIMEOUT_MS, idle) : idle),
    tlsHandshakeTimeoutMs: parseDuration(config.limits.tlsHandshakeTimeout),
    sessionTimeoutMs: parseDuration(config.limits.sessionTimeout),
    minDataRate: config.limits.minDataRate,
  };
}

/** The options our patches of smtp-server read (patches/smtp-server.ts). */
function patchedOptions(kind: ListenerKind, config: RelayConfig, context: IntakeContext): PatchedServerOptions {
  return {
    // Deadlines trickling cannot reset, and the connection slot released on close.
    sessionLifecycle: sessionLifecycle(watchdogOptions(kind, config, context)),
    mailParameters: (args, authOffered) => unsupportedParameter('MAIL', args, authOffered),
    // Only port 25 keeps smtp-server's 100 ms early-talker pause (listener-profile.ts).
    ...(LISTENER_PROFILES[kind].greetingDelayMs !== undefined ? { greetingDelayMs: LISTENER_PROFILES[kind].greetingDelayMs } : {}),
    // OAuth 2.0 bearer tokens (oauth/sasl.ts); offered only where authMethods lists them.
    ...(LISTENER_PROFILES[kind].auth !== 'none' ? { saslMechanisms: OAUTH_SASL_MECHANISMS } : {}),
  };
}

function optionsFor(kind: ListenerKind, context: IntakeContext, tls: TlsMaterial | undefined, handlers: SessionRouter): SMTPServerOptions {
  const { config } = context;
  return {
    ...configuredOptions(context),
    banner: 'mxkit',
    // Authentication rules are ours (trusted networks, per-listener policy): see SessionHandlers.
    authOptional: true,
    disabledCommands: LISTENER_PROFILES[kind].auth === 'none' ? ['AUTH'] : [],
    secure: LISTENER_PROFILES[kind].implicitTls,
    hideSTARTTLS: tls === undefined,
    // We do not implement DSN NOTIFY/RET or REQUIRETLS semantics, so we do not advertise them.
    hideDSN: true,
    hideENHANCEDSTATUSCODES: false,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    // A backstop only: session-watchdog.ts enforces the deadlines trickling cannot reset.
    socketTimeout: 2 * parseDuration(config.limits.idleTimeout),
    closeTimeout: 30_000,
    logger: false,
    ...SMTP_TLS_OPTIONS,
    ...patchedOptions(kind, config, context),
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    onConnect: handlers.onConnect,
    onSecure: handlers.onSecure,
    onAuth: handlers.onAuth,
    // Read by oauth/sasl.ts (smtp-server keeps unknown options as given).
    oauthLogin: handlers.oauthLogin,
    onMailFrom: handlers.onMailFrom,
    onRcptTo: handlers.onRcptTo,
    onData: handlers.onData,
  } as SMTPServerOptions;
}

export async function startSmtpListeners(context: IntakeContext, tls: TlsMaterial | undefined): Promise<SmtpListener[]> {
  // The options patchedOptions sets, read by the patches of smtp-server (patches/).
  installPatches();
  const started: SmtpListener[] = [];
  try {
    for (const kind of SMTP_LISTENERS) {
      const endpoint = context.config.listen[kind];
      if (!endpoint) continue;
      if (LISTENER_PROFILES[kind].auth !== 'none' && !tls) throw new ConfigError(`listen.${kind}: needs tls.certFile and tls.keyFile`);
      const handlersFor = (current: IntakeContext) => new SessionHandlers(LISTENER_PROFILES[kind], current, (session) => dismissAfterTransaction(server, session, current));
      const router = new SessionRouter(handlersFor(context));
      const server: SMTPServer = new SMTPServer(optionsFor(kind, context, tls, router));
      server.on('error', (error: Error) => logListenerError(context.logger, kind, error));
      admitConnections(server, kind, context);
      const address = await listen(server, kind, endpoint.host, endpoint.port);
      const reconfigure = (next: IntakeContext) => {
        // smtp-server reads these from its options object as sessions use them (EHLO, MAIL SIZE=, DATA).
        Object.assign(server.options, configuredOptions(next));
        router.replace(handlersFor(next));
      };
      started.push({ kind, server, address, reconfigure });
      context.logger.info({ listener: kind, host: address.address, port: address.port }, 'listening');
    }
  } catch (error) {
    await Promise.all(started.map(({ server }) => closeServer(server)));
    throw error;
  }
  return started;
}

/**
 * Every accepted TCP connection passes the connection limits first (connection-tracker.ts) --
 * before smtp-server sees it, before a TLS handshake -- and holds its slot until it closes. A
 * refused client on a plaintext port is told why in one line; on the implicit-TLS port nothing
 * can be said before the handshake, so the connection is closed.
 */
function admitConnections(server: SMTPServer, kind: ListenerKind, context: IntakeContext): void {
  const net = server.server;
  const handlers = net.listeners('connection') as Array<(socket: Socket) => void>;
  net.removeAllListeners('connection');
  const handshakeMs = parseDuration(context.config.limits.tlsHandshakeTimeout);
  net.on('connection', (socket: Socket) => {
    socket.on('error', () => undefined); // errors of refused or half-accepted sockets are the client's
    const ip = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const admission = context.isDraining() ? ({ ok: false, refusal: 'shutting_down' } as const) : context.connections.tryAdmit(kind, ip);
    if (!admission.ok) {
      const reply: SmtpReply = admission.refusal === 'per_ip' ? Replies.tooManyConnections() : admission.refusal === 'full' ? Replies.serverBusy() : Replies.shuttingDown();
      context.metrics.rejected.inc({ listener: kind, reason: reply.reason });
      context.logger.info({ listener: kind, client: ip, reason: admission.refusal, reply: reply.toString() }, 'connection refused');
      if (LISTENER_PROFILES[kind].implicitTls) socket.destroy();
      else socket.end(`${reply.toString()}\r\n`);
      socket.setTimeout(5_000, () => socket.destroy());
      return;
    }
    context.metrics.connections.inc({ listener: kind });
    context.metrics.activeSessions.inc({ listener: kind });
    let released = false;
    releaseOnClose(socket, () => {
      if (released) return;
      released = true;
      admission.release();
      context.metrics.activeSessions.dec({ listener: kind });
    });
    // smtp-server keeps the TLS socket it wraps an accepted socket in under _pendingSockets until the session starts.
    const pending = (server as unknown as { _pendingSockets: Map<Socket, { destroy(): void }> })._pendingSockets;
    if (LISTENER_PROFILES[kind].implicitTls) armHandshakeDeadline(socket, handshakeMs, () => pending.get(socket) ?? socket);
    for (const handler of handlers) handler.call(net, socket);
  });
}

function listen(server: SMTPServer, kind: string, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'is already in use' : error.code === 'EACCES' ? 'needs privileges to bind' : error.message;
      reject(new ConfigError(`listen.${kind}: ${host}:${port} ${why}`));
    };
    server.server.once('error', onError);
    server.listen(port, host, () => {
      server.server.removeListener('error', onError);
      resolve(server.server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

interface LiveConnection {
  session: SMTPServerSession;
  send(code: number, data: string): void;
}

function connectionsOf(server: SMTPServer): Set<LiveConnection> {
  return (server as unknown as { connections: Set<LiveConnection> }).connections;
}

/**
 * Graceful shutdown, step one: sessions idle between transactions are told 421 4.3.2 and closed
 * (421 makes smtp-server close the connection); sessions inside a transaction keep going, and are
 * dismissed as soon as it ends (dismissAfterTransaction).
 */
export function dismissIdleSessions(server: SMTPServer): void {
  const reply = Replies.shuttingDown();
  for (const connection of connectionsOf(server)) {
    if (!connection.session.envelope.mailFrom) connection.send(reply.code, reply.message);
  }
}

/** While draining, a session whose transaction just ended (its reply sent) is closed at once. */
function dismissAfterTransaction(server: SMTPServer, session: SMTPServerSession, context: IntakeContext): void {
  if (!context.isDraining()) return;
  setImmediate(() => {
    const reply = Replies.shuttingDown();
    for (const connection of connectionsOf(server)) {
      if (connection.session === session) connection.send(reply.code, reply.message);
    }
  });
}
