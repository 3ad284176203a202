/** One smtp-server instance per configured SMTP listener (mx, submission, submissions). */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TlsMaterial } from '../config/load';
import { ConfigError, type RelayConfig } from '../config/schema';
import { parseDuration } from '../config/duration';
import { installGreetingDelayOption } from './greeting-delay';
import { installEnhancedStatusPassthrough, Replies } from './reply';
import { SessionHandlers, type IntakeContext, type ListenerKind } from './session-handlers';

export const SMTP_LISTENERS: readonly ListenerKind[] = ['mx', 'submission', 'submissions'];

export interface SmtpListener {
  kind: ListenerKind;
  server: SMTPServer;
  address: AddressInfo;
}

function optionsFor(kind: ListenerKind, config: RelayConfig, tls: TlsMaterial | undefined, handlers: SessionHandlers): SMTPServerOptions {
  return {
    name: config.hostname,
    banner: 'mxkit',
    size: config.limits.maxMessageBytes,
    authMethods: ['PLAIN', 'LOGIN'],
    // Authentication rules are ours (trusted networks, per-listener policy): see SessionHandlers.
    authOptional: true,
    disabledCommands: kind === 'mx' ? ['AUTH'] : [],
    secure: kind === 'submissions',
    hideSTARTTLS: tls === undefined,
    // We do not implement DSN NOTIFY/RET or REQUIRETLS semantics, so we do not advertise them.
    hideDSN: true,
    hideENHANCEDSTATUSCODES: false,
    hideREQUIRETLS: true,
    disableReverseLookup: true,
    socketTimeout: parseDuration(config.limits.idleTimeout),
    closeTimeout: 30_000,
    logger: false,
    minVersion: 'TLSv1.2',
    // See greeting-delay.ts: only port 25 keeps the early-talker pause.
    ...(kind === 'mx' ? {} : { greetingDelayMs: 0 }),
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    onConnect: handlers.onConnect,
    onSecure: handlers.onSecure,
    onClose: handlers.onClose,
    onAuth: handlers.onAuth,
    onMailFrom: handlers.onMailFrom,
    onRcptTo: handlers.onRcptTo,
    onData: handlers.onData,
  };
}

export async function startSmtpListeners(context: IntakeContext, tls: TlsMaterial | undefined): Promise<SmtpListener[]> {
  installEnhancedStatusPassthrough();
  installGreetingDelayOption();
  const started: SmtpListener[] = [];
  try {
    for (const kind of SMTP_LISTENERS) {
      const endpoint = context.config.listen[kind];
      if (!endpoint) continue;
      if (kind !== 'mx' && !tls) throw new ConfigError(`listen.${kind}: needs tls.certFile and tls.keyFile`);
      const server = new SMTPServer(optionsFor(kind, context.config, tls, new SessionHandlers(kind, context)));
      server.on('error', (error: Error) => context.logger.error({ err: error, listener: kind }, 'listener error'));
      const address = await listen(server, kind, endpoint.host, endpoint.port);
      started.push({ kind, server, address });
      context.logger.info({ listener: kind, host: address.address, port: address.port }, 'listening');
    }
  } catch (error) {
    await Promise.all(started.map(({ server }) => closeServer(server)));
    throw error;
  }
  return started;
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
  session: { envelope: { mailFrom: unknown } };
  send(code: number, data: string): void;
}

/**
 * Graceful shutdown, step one: sessions idle between transactions are told 421 4.3.2 and closed
 * (421 makes smtp-server close the connection); sessions inside a transaction keep going.
 */
export function dismissIdleSessions(server: SMTPServer): void {
  const connections = (server as unknown as { connections: Set<LiveConnection> }).connections;
  const reply = Replies.shuttingDown();
  for (const connection of connections) {
    if (!connection.session.envelope.mailFrom) connection.send(reply.code, reply.message);
  }
}
