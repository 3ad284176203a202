/**
 * What every listener's session handlers are given (wired by relay.ts): the config, the spool, the
 * observability, and the hooks other folders provide. Its own module so the handlers of one
 * conversation step (data-handler.ts, ...) share it without importing each other.
 */
import type { BlockList } from 'node:net';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { SpamFilter } from '../spam/spam-filter';
import type { SpoolEnvelope } from '../spool/envelope';
import type { Spool } from '../spool/spool';
import type { AuthDeps } from './auth-handler';
import type { ByteBudget } from './byte-budget';
import type { ConnectionTracker } from './connection-tracker';
import type { OAuthVerifier } from './oauth/token-verifier';
import type { InboundHooks } from './policy';
import type { SmtpReply } from './reply';

export type ListenerKind = 'mx' | 'submission' | 'submissions';

export interface IntakeContext {
  config: RelayConfig;
  spool: Spool;
  logger: Logger;
  metrics: RelayMetrics;
  /** AUTH throttles and the password worker. */
  auth: AuthDeps;
  trusted: BlockList;
  connections: ConnectionTracker;
  /** Bytes of messages being received, over all sessions (limits.maxInFlightBytes). */
  budget: ByteBudget;
  isDraining(): boolean;
  /** Called after a message is durably spooled and before the 250 goes out. */
  onSpooled?(envelope: SpoolEnvelope): void;
  /** Inbound authentication and SRS bounce addresses for the `mx` listener (from delivery/). */
  inbound?: InboundHooks;
  /** DNS block lists, sending limits and content scanning (relay/src/spam). */
  spam?: SpamFilter;
  /** Submission only: a refusal for a suppressed recipient (suppression/feed.ts), if any. */
  suppressedRecipient?(address: string): SmtpReply | undefined;
  /** OAuth bearer tokens on submission (auth.oauth); absent or empty: password logins only. */
  oauth?: OAuthVerifier;
}
