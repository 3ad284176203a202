/**
 * Errors smtp-server reports for its listeners. Most are a client's doing -- a TLS handshake it
 * broke off or garbled, a reset connection, a timeout -- and are routine on an internet-facing
 * port: logged at info, one line, no stack (a scanner must not fill the error log). Anything else
 * is ours and is logged as an error with its stack.
 */
import type { Logger } from '../ops/logger';

const CLIENT_ERROR_CODES = /^(ECONNRESET|EPIPE|ETIMEDOUT|ECONNABORTED|EHOSTUNREACH|ENETUNREACH|ERR_STREAM_PREMATURE_CLOSE|ERR_SSL_|ERR_TLS_|TLSError|SocketError|ECONNECTION)/;

interface ReportedError extends Error {
  code?: string;
  library?: string;
  reason?: string;
  remoteAddress?: string;
  meta?: { remoteAddress?: string; stage?: string; tlsProtocol?: string | null };
}

export function isClientError(error: ReportedError): boolean {
  return (error.code !== undefined && CLIENT_ERROR_CODES.test(error.code)) || error.library === 'SSL routines' || error.meta?.stage === 'connect';
}

/** smtp-server may report one failed handshake twice (the socket's error and the upgrade's). */
const reported = new WeakSet<object>();

export function logListenerError(logger: Logger, listener: string, error: ReportedError): void {
  if (reported.has(error)) return;
  reported.add(error);
  if (isClientError(error)) {
    logger.info({ listener, client: error.remoteAddress ?? error.meta?.remoteAddress, code: error.code, reason: error.reason ?? error.message }, 'client connection error');
    return;
  }
  logger.error({ err: error, listener }, 'listener error');
}
