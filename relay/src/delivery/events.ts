/**
 * What delivery announces on its EventEmitter (Delivery.events), as types: the trace store, the
 * suppression list, per-user metrics and alerts subscribe to these instead of reaching into
 * attempt.ts. Emitted as each outcome becomes durable.
 */
import type { CoolOffEvent } from './throttle';
import type { Origin } from '../spool/envelope';

/** Mailboxes the relay keeps itself (reports/sink.ts): not forwarded, stored. */
export type LocalMailbox = 'dmarc' | 'tlsRpt' | 'complaints';

export interface RecipientEvent {
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
  reason: string;
  /** RFC 3463 enhanced status. */
  status: string;
  /** The remote reply or the local failure. */
  detail: string;
  remoteMta?: string;
  remoteAddress?: string;
  /** Whether the session that answered was encrypted (when a session was held). */
  tls?: boolean;
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
