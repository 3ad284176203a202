/**
 * One attempt's bookkeeping: the message and its durable state, each recipient's outcome recorded
 * (state, metrics, log line, event) as soon as it is known, and what the attempt learned on the
 * way -- whether a remote server was reached, whether our own throttle held it back, which
 * recipients bounced and still await their DSN. attempt.ts drives the steps around it.
 */
import type { Logger } from '../ops/logger';
import type { SpoolEnvelope } from '../spool/envelope';
import type { DeliveryState, RecipientState } from '../spool/state';
import type { AttemptContext } from './attempt-context';
import type { Outcome } from './outcome';

export class AttemptRecord {
  readonly log: Logger;
  /** Bounced recipients whose DSN (or failed-list entry) is not yet made. */
  readonly newlyBounced: RecipientState[];
  /** Held back by our own throttle until then: no remote contact, so no attempt counts. */
  throttledUntil: number | undefined;
  /** A remote server (or the local store) was reached for some recipient. */
  attempted = false;
  private writes = Promise.resolve();

  constructor(
    readonly ctx: AttemptContext,
    readonly envelope: SpoolEnvelope,
    /** The message's bytes, read on first use (a large message is read only for a DSN or a local mailbox). */
    readonly body: () => Promise<Buffer>,
    readonly state: DeliveryState,
  ) {
    this.log = ctx.logger.child({ queueId: envelope.id });
    this.newlyBounced = state.recipients.filter((recipient) => recipient.status === 'bounced' && recipient.dsnPending === true);
  }

  get id(): string {
    return this.envelope.id;
  }

  /** Recipients still to deliver. */
  pending(): RecipientState[] {
    return this.state.recipients.filter((recipient) => recipient.status === 'pending');
  }

  /** Writes the state after every write before it (outcomes are durable as soon as known). */
  persist(): Promise<void> {
    this.writes = this.writes.then(() => this.ctx.spool.state.write(this.state));
    return this.writes;
  }

  /** Resolves once every write asked for so far is done. */
  written(): Promise<void> {
    return this.writes;
  }

  /** Who and where, on every event (events.ts): the trace, suppression and per-user metrics use it. */
  private about(recipient: RecipientState) {
    const { envelope } = this;
    return { id: this.id, to: recipient.to, ...(recipient.original !== recipient.to ? { original: recipient.original } : {}), ...(envelope.authUser ? { user: envelope.authUser } : {}), listener: envelope.listener, origin: envelope.origin };
  }

  /** Bounces decided by planning a new message (no route any more): counted and announced once. */
  announcePlannedBounces(): void {
    for (const recipient of this.state.recipients.filter((r) => r.status === 'bounced')) {
      recipient.dsnPending = true;
      this.ctx.metrics.bounced.inc({ reason: recipient.reason ?? 'unknown' });
      this.log.warn({ to: recipient.to, reason: recipient.reason, detail: recipient.lastError }, 'bounced');
      this.ctx.events.emit('bounced', { ...this.about(recipient), reason: recipient.reason ?? 'unknown', status: recipient.statusCode ?? '5.0.0', detail: recipient.lastError ?? '' });
      if (!this.newlyBounced.includes(recipient)) this.newlyBounced.push(recipient);
    }
  }

  record(recipient: RecipientState, outcome: Outcome): void {
    const { ctx, envelope } = this;
    if (outcome.retryAt !== undefined) this.throttledUntil = Math.min(this.throttledUntil ?? Infinity, outcome.retryAt);
    else this.attempted = true;
    if (outcome.reason !== 'throttled') recipient.attempts++;
    recipient.lastAttemptAt = new Date().toISOString();
    recipient.statusCode = outcome.status;
    recipient.reason = outcome.reason;
    recipient.lastError = outcome.verdict === 'delivered' ? undefined : outcome.detail;
    if (outcome.remoteMta) recipient.remoteMta = outcome.remoteMta;
    const fields = { to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail, remoteMta: outcome.remoteMta };
    const event = { ...this.about(recipient), ...fields, ...(outcome.remoteAddress ? { remoteAddress: outcome.remoteAddress } : {}), ...(outcome.tls !== undefined ? { tls: outcome.tls } : {}) };
    if (outcome.verdict === 'delivered') {
      recipient.status = 'delivered';
      ctx.metrics.delivered.inc({ route: recipient.local ? 'local' : ctx.transport.smarthost ? 'smarthost' : 'mx', tls: outcome.tls ? 'yes' : 'no' });
      ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
      this.log.info({ ...fields, tls: outcome.tls }, 'delivered');
      ctx.events.emit('delivered', { ...event, tls: outcome.tls === true });
    } else if (outcome.verdict === 'bounced') {
      this.bounce(recipient, outcome);
    } else {
      ctx.metrics.deferred.inc({ reason: outcome.reason });
      this.log.info(fields, 'deferred');
      ctx.events.emit('deferred', { ...event, ...(outcome.retryAt !== undefined ? { retryAt: new Date(outcome.retryAt).toISOString() } : {}) });
    }
  }

  bounce(recipient: RecipientState, outcome: Outcome): void {
    const { ctx, envelope } = this;
    recipient.status = 'bounced';
    recipient.dsnPending = true;
    recipient.statusCode = outcome.status.startsWith('4') && outcome.reason !== 'expired' ? `5${outcome.status.slice(1)}` : outcome.status;
    recipient.lastError = outcome.detail;
    recipient.reason = outcome.reason;
    this.newlyBounced.push(recipient);
    ctx.metrics.bounced.inc({ reason: outcome.reason });
    ctx.metrics.queueAge.observe((Date.now() - Date.parse(envelope.receivedAt)) / 1000);
    this.log.warn({ to: recipient.to, reason: outcome.reason, status: outcome.status, detail: outcome.detail }, 'bounced');
    ctx.events.emit('bounced', { ...this.about(recipient), reason: outcome.reason, status: recipient.statusCode, detail: outcome.detail, ...(outcome.remoteMta ? { remoteMta: outcome.remoteMta } : {}), ...(outcome.remoteAddress ? { remoteAddress: outcome.remoteAddress } : {}), ...(outcome.tls !== undefined ? { tls: outcome.tls } : {}) });
  }
}
