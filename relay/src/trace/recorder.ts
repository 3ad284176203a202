/**
 * Feeds the trace store from what already happens: the intake's "spooled" hand-over and delivery's
 * events (delivery/events.ts). Nothing here decides anything about mail; it only writes down.
 */
import type { EventEmitter } from 'node:events';
import { onDeliveryEvent, type DeferredEvent, type RecipientEvent } from '../delivery/events';
import type { SpoolEnvelope } from '../spool/envelope';
import { clip, clipAddress, clipRecipients, type TraceEntry } from './entry';
import type { TraceWriter } from './store';

type Distributive<T> = T extends unknown ? Omit<T, 'at' | 'id'> : never;
export type TraceFields = Distributive<TraceEntry>;

export class TraceRecorder {
  constructor(
    private readonly writer: TraceWriter,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes one entry; every text field is clipped here, whoever calls (entry.ts bounds). */
  record(id: string, fields: TraceFields): void {
    const clipped = Object.fromEntries(
      Object.entries(fields).map(([key, value]) => [key, typeof value === 'string' ? clip(value) : Array.isArray(value) ? clipRecipients(value.map(String)) : value]),
    );
    this.writer.append({ at: new Date(this.now()).toISOString(), id, ...clipped } as TraceEntry);
  }

  /** A message the intake (or delivery, for a DSN) has spooled. */
  received(envelope: SpoolEnvelope): void {
    this.record(envelope.id, {
      kind: 'received',
      from: clipAddress(envelope.mailFrom),
      to: clipRecipients(envelope.rcptTo),
      listener: envelope.listener,
      ...(envelope.origin !== 'dsn' ? { client: clip(envelope.clientAddress, 64) } : {}),
      ...(envelope.authUser ? { user: clip(envelope.authUser, 100) } : {}),
    });
  }

  /** Subscribes to every delivery event the trace shows. */
  follow(events: EventEmitter): void {
    const outcome = (kind: 'delivered' | 'deferred' | 'bounced') => (event: RecipientEvent & { retryAt?: string }) =>
      this.record(event.id, {
        kind,
        to: clipAddress(event.to),
        ...(event.original ? { original: clipAddress(event.original) } : {}),
        status: clip(event.status ?? '', 16),
        reason: clip(event.reason, 32),
        reply: clip(event.detail ?? ''),
        ...(event.remoteMta ? { mx: clip(event.remoteMta, 255) } : {}),
        ...(event.remoteAddress ? { address: clip(event.remoteAddress, 64) } : {}),
        ...(event.tls !== undefined ? { tls: event.tls } : {}),
        ...(event.retryAt ? { retryAt: event.retryAt } : {}),
      });
    onDeliveryEvent(events, 'delivered', outcome('delivered'));
    onDeliveryEvent(events, 'deferred', outcome('deferred') as (event: DeferredEvent) => void);
    onDeliveryEvent(events, 'bounced', outcome('bounced'));
    onDeliveryEvent(events, 'rescheduled', (event) => this.record(event.id, { kind: 'retry', nextAttemptAt: event.nextAttemptAt }));
    onDeliveryEvent(events, 'dsn', (event) => {
      this.record(event.id, { kind: 'dsn', to: clipAddress(event.to), action: event.action, dsnId: event.dsnId });
      this.record(event.dsnId, { kind: 'received', from: '', to: [clipAddress(event.to)], listener: 'dsn' });
    });
    onDeliveryEvent(events, 'dsn-suppressed', (event) => this.record(event.id, { kind: 'no-dsn', action: event.action, reason: event.reason }));
    onDeliveryEvent(events, 'finished', (event) => this.record(event.id, { kind: 'finished' }));
    // The failed list (a message that ended without delivery and without a DSN, kept in
    // spoolDir/failed): delivery announces it as 'failed' { id, recipients }. Until that change is
    // in, nothing emits it and the trace simply has no such ending.
    events.on('failed', (event: { id?: unknown; recipients?: unknown }) => {
      if (typeof event.id !== 'string') return;
      const recipients = Array.isArray(event.recipients) ? event.recipients.filter((to): to is string => typeof to === 'string') : [];
      if (recipients.length === 0) this.record(event.id, { kind: 'failed-list' });
      for (const to of recipients.slice(0, 100)) this.record(event.id, { kind: 'failed-list', to: clipAddress(to) });
    });
  }
}
