/** What one delivery attempt works with (attempt.ts, endings.ts), built once by delivery.ts. */
import type { EventEmitter } from 'node:events';
import type { RelayConfig } from '../config/schema';
import type { Logger } from '../ops/logger';
import type { RelayMetrics } from '../ops/metrics';
import type { SpoolEnvelope } from '../spool/envelope';
import type { Spool } from '../spool/spool';
import type { DkimSigner } from './dkim';
import type { LocalMailbox } from './events';
import type { Outcome } from './outcome';
import type { Srs } from './srs';
import type { Throttle } from './throttle';
import type { TransportSettings } from './transport';

/** RFC 3464 delay warnings: one, after the message has waited this long. */
export const DELAY_WARNING_MS = 4 * 3_600_000;

export interface AttemptContext {
  config: RelayConfig;
  spool: Spool;
  logger: Logger;
  metrics: RelayMetrics;
  events: EventEmitter;
  transport: TransportSettings;
  /** Per-provider concurrency, pace and cool-offs (throttle.ts). */
  throttle: Throttle;
  /** Stores mail for the relay's own report and complaint mailboxes (reports/sink.ts). */
  storeLocally?(mailbox: LocalMailbox, envelope: SpoolEnvelope, body: Buffer): Promise<Outcome>;
  signers: readonly DkimSigner[];
  srs: Srs;
  retryScheduleMs: readonly number[];
  maxQueueTimeMs: number;
  /** How long the failed list keeps a message (delivery.failedRetention). */
  failedRetentionMs: number;
  /** Age after which a still-undelivered message earns one "delayed" DSN (default 4 h). */
  delayWarningMs: number;
  /** Schedules a message the relay spooled itself (a DSN). */
  scheduleNew(envelope: SpoolEnvelope): void;
}

