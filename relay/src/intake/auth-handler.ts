/**
 * AUTH (RFC 4954) for the submission listeners: the guard decides whether a password may be
 * tried at all (auth-guard.ts), the password worker checks it off the event loop and off the
 * spool's thread pool (password-worker.ts). Refusals: 535 5.7.8 wrong credentials, 421 4.7.0 too
 * many failures from this address, 454 4.7.0 try later (throttled account or relay, worker busy).
 */
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { AuthGuard } from './auth-guard';
import type { PasswordVerifier } from './password-worker';
import { Replies, SmtpReply } from './reply';

export interface AuthDeps {
  config: RelayConfig;
  guard: AuthGuard;
  passwords: PasswordVerifier;
  metrics: RelayMetrics;
}

/** The username on success, else the reply to give. */
export async function authenticate(deps: AuthDeps, listener: string, auth: SMTPServerAuthentication, session: SMTPServerSession, log: Logger): Promise<string | SmtpReply> {
  const { guard, config, metrics } = deps;
  const ip = session.remoteAddress;
  const username = auth.username ?? '';
  const gate = guard.gate(ip, username);
  if (!gate.allowed) {
    metrics.authThrottled.inc({ listener, reason: gate.reason });
    log.warn({ client: ip, user: username, reason: gate.reason }, 'AUTH refused without a password check: too many failures');
    return gate.reason === 'per_ip' ? Replies.authThrottled() : Replies.authTemporarilyRefused();
  }
  const user = config.users.find((candidate) => candidate.username === username);
  const verdict = await deps.passwords.verify(auth.password ?? '', user?.passwordHash, gate.lane);
  if (verdict === 'busy') {
    metrics.authThrottled.inc({ listener, reason: 'busy' });
    log.warn({ client: ip, user: username }, 'AUTH refused: the password worker is busy');
    return Replies.authTemporarilyRefused();
  }
  if (verdict) {
    guard.recordSuccess(ip, username);
    log.info({ user: username, method: auth.method }, 'authenticated');
    return username;
  }
  metrics.authFailures.inc({ listener });
  log.warn({ client: ip, user: username, method: auth.method }, 'AUTH failed');
  await guard.recordFailure(ip, username);
  return guard.isBlocked(ip) ? Replies.authThrottled() : Replies.authFailed();
}
