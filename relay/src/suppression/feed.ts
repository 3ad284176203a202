/**
 * What feeds the suppression list and the per-user sending metrics: delivery's outcomes (a 5.1.x
 * bounce of submitted mail suppresses its recipient) and complaints (reports/sink.ts calls
 * `complaint`). Also the one reply a submission to a suppressed recipient gets.
 */
import type { EventEmitter } from 'node:events';
import { onDeliveryEvent, type RecipientEvent } from '../delivery/events';
import { SmtpReply } from '../intake/reply';
import type { DeliverabilityMetrics } from '../ops/deliverability-metrics';
import type { Logger } from '../ops/logger';
import type { SuppressionEntry, SuppressionList } from './list';

/** RFC 3463 3.2: X.1.x are addressing failures -- the mailbox, domain or host does not exist. */
export function isHardBounce(status: string | undefined): boolean {
  return status !== undefined && /^5\.1\.\d{1,3}$/.test(status);
}

/** `550 5.7.1 <addr>: suppressed since <date> (hard bounce: <reply>)`: what the submitter sees. */
export function suppressionReply(entry: SuppressionEntry): SmtpReply {
  const why = entry.reason === 'hard-bounce' ? 'hard bounce' : 'spam complaint';
  const detail = entry.detail.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return new SmtpReply(550, '5.7.1', `<${entry.address}>: recipient suppressed since ${entry.at.slice(0, 10)} (${why}: ${detail}); ask the postmaster to remove it`, 'suppressed');
}

export interface SuppressionFeedDeps {
  list: SuppressionList | undefined;
  metrics: DeliverabilityMetrics;
  logger: Logger;
  /** Configured usernames: metric labels stay bounded. */
  users: readonly string[];
  /** Writes the addition into the message's trace. */
  traced(queueId: string, to: string, reason: string): void;
}

export class SuppressionFeed {
  constructor(private readonly deps: SuppressionFeedDeps) {}

  userLabel(user: string | undefined): string {
    if (user === undefined) return 'unauthenticated';
    return this.deps.users.includes(user) ? user : 'unknown';
  }

  follow(events: EventEmitter): void {
    const submitted = (event: RecipientEvent) => event.origin === 'submission';
    onDeliveryEvent(events, 'delivered', (event) => {
      if (submitted(event)) this.deps.metrics.userRecipients.inc({ user: this.userLabel(event.user), outcome: 'delivered' });
    });
    onDeliveryEvent(events, 'bounced', (event) => {
      const hard = isHardBounce(event.status) && event.reason !== 'no_route';
      if (submitted(event)) this.deps.metrics.userRecipients.inc({ user: this.userLabel(event.user), outcome: hard ? 'hard_bounce' : 'bounced' });
      if (!hard || event.origin === 'inbound') return;
      void this.add({ address: event.to, reason: 'hard-bounce', detail: event.detail, at: new Date().toISOString(), ...(event.user ? { user: event.user } : {}), queueId: event.id });
    });
  }

  /** An ARF complaint about mail of `user` to `address` (reports/sink.ts). */
  complaint(address: string | undefined, feedbackType: string, user: string | undefined, queueId: string | undefined): void {
    this.deps.metrics.userComplaints.inc({ user: this.userLabel(user) });
    if (address === undefined) return;
    void this.add({ address, reason: 'complaint', detail: `feedback type ${feedbackType}`, at: new Date().toISOString(), ...(user ? { user } : {}), ...(queueId ? { queueId } : {}) });
  }

  private async add(entry: SuppressionEntry): Promise<void> {
    if (!this.deps.list) return;
    if (!(await this.deps.list.add(entry))) return;
    this.deps.metrics.suppressionAdded.inc({ reason: entry.reason });
    this.deps.logger.info({ address: entry.address, reason: entry.reason, user: entry.user, queueId: entry.queueId }, 'recipient suppressed');
    if (entry.queueId) this.deps.traced(entry.queueId, entry.address, entry.reason);
  }
}
