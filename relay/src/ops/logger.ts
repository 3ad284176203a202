/** JSON logs (pino) on stdout. Passwords and keys never reach a log call: callers log names only. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.MXKIT_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service: 'mxkit' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: even if a future call site passes an auth object, these never print.
    redact: { paths: ['password', '*.password', 'passwordHash', '*.passwordHash', 'key', '*.key'], censor: '[redacted]' },
  });
}
