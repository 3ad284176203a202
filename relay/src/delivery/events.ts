/**
 * What delivery announces on its EventEmitter (Delivery.events), as types: the trace store, the
 * suppression list, per-user metrics and alerts subscribe to these instead of reaching into
 * attempt.ts. Emitted as each outcome becomes durable.
 */
import type { Outcome } from './outcome';
import type { CoolOffEvent } from './throttle';
import type { Origin } from '../spool/envelope';

/** Mailboxes the relay keeps itself (reports/sink.ts): not forwarded, stored. */
export type LocalMailbox = 'dmarc' | 'tlsRpt' | 'complaints';

/** The outcome's reason, status, detail, remote MTA and address, and TLS, as delivery recorded them (outcome.ts). */
export interface RecipientEvent extends Pick<Outcome, 'reason' | 'status' | 'detail' | 'remoteMta' | 'remoteAddress' | 'tls'> {
  id: string;
  /** Where delivery went (after routes). */
  to: string;
  /** The envelope recipient it was accepted for, when forwarded. */
  original?: string;
  /** The authenticated user who submitted the message. */
  user?: string;
  /** The listener the message came in on (mx, submission, submissions, dsn): for labels and logs. */
  listener: string;
  /** Where the message came from: what consumers decide by. */
  origin: Origin;
}

export interface DeliveredEvent extends RecipientEvent {
  tls: boolean;
}

export interface DeferredEvent extends RecipientEvent {
  /** Set when our own throttle held the message back until then. */
  retryAt?: string;
}

export type BouncedEvent = RecipientEvent;

export interface RescheduledEvent {
  id: string;
  nextAttemptAt: string;
}

export interface DsnEvent {
  id: string;
  dsnId: string;
  to: string;
  action: 'failed' | 'delayed';
}

export interface DsnSuppressedEvent {
  id: string;
  action: 'failed' | 'delayed';
  reason: string;
}

export interface FinishedEvent {
  id: string;
}

export interface DeliveryEventMap {
  delivered: DeliveredEvent;
  deferred: DeferredEvent;
  bounced: BouncedEvent;
  rescheduled: RescheduledEvent;
  dsn: DsnEvent;
  'dsn-suppressed': DsnSuppressedEvent;
  finished: FinishedEvent;
  'cool-off': CoolOffEvent;
}

/** Typed subscription to an untyped EventEmitter. */
export function onDeliveryEvent<K extends keyof DeliveryEventMap>(events: { on(name: string, listener: (payload: DeliveryEventMap[K]) => void): unknown }, name: K, listener: (payload: DeliveryEventMap[K]) => void): void {
  events.on(name, listener);
}
